//! `s3://` remotes through the real binary against real S3 servers on loopback, moto and
//! SeaweedFS (every case of `s3_cases.rs` runs on both): every sync command, conflicts, prune
//! and bootstrap, two copies of one home racing, the failures a cron job meets (no
//! credentials, no bucket, no server, a kill mid-push), and faults injected by a proxy.

/// On moto, a mock of S3 in Python.
mod moto {
    fn server() -> &'static crate::util::s3::S3Server {
        crate::util::s3::moto()
    }
    include!("s3_cases.rs");
}

/// On SeaweedFS, a real S3-compatible store (its listings, ETags, error documents and
/// signature checks, not moto's).
mod seaweedfs {
    fn server() -> &'static crate::util::s3::S3Server {
        crate::util::s3::seaweedfs()
    }
    include!("s3_cases.rs");
}
