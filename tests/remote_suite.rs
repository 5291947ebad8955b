//! One suite over every object store: the folder, memory, S3 (real moto and SeaweedFS servers
//! on loopback, with and without a prefix), SFTP (a real sshd on loopback) and WebDAV (a real
//! wsgidav on loopback). What sync relies on of a remote must hold the same
//! everywhere: create-if-absent never replaces, a republish of the same bytes is a no-op,
//! manifests are replaced whole, listing classifies and sorts, the tail is the last 32 bytes,
//! and the object layer lists under a prefix after a name.

use context::ids::{PeerId, SeededIds};
use context::record::Checksum;
use context::remote::{
    Created, CsetName, Folder, Listing, Manifest, Memory, Remote, RemoteError, SnapshotName,
    Transport,
};

use crate::util::s3::Bucket;
use crate::util::ssh::SshFolder;
use crate::util::webdav::DavFolder;

fn peer() -> PeerId {
    PeerId::generate(&SeededIds::new(11))
}

fn name(g: u64, s: u64) -> CsetName {
    CsetName {
        peer: peer(),
        generation: g,
        seq: s,
    }
}

fn empty_lists_nothing(r: &Remote) {
    assert_eq!(r.list().unwrap(), Listing::default());
    assert_eq!(r.read_manifest(peer()).unwrap(), None);
}

fn publish_then_list_and_read(r: &Remote) {
    r.publish(&name(1, 2), b"two").unwrap();
    r.publish(&name(1, 1), b"one").unwrap();
    r.publish(&name(2, 1), b"gen two").unwrap();
    let l = r.list().unwrap();
    assert_eq!(l.changesets, vec![name(1, 1), name(1, 2), name(2, 1)]);
    assert_eq!(r.read(&name(1, 2)).unwrap(), b"two");
    assert_eq!(l.streams().len(), 2);
    assert!(r.read(&name(9, 9)).is_err());
}

fn republishing_is_idempotent_but_never_replaces(r: &Remote) {
    r.publish(&name(1, 1), b"same").unwrap();
    r.publish(&name(1, 1), b"same").unwrap();
    let e = r.publish(&name(1, 1), b"different").unwrap_err();
    assert!(matches!(e, RemoteError::Exists { .. }), "{e}");
    assert_eq!(r.read(&name(1, 1)).unwrap(), b"same");
}

fn manifests_are_replaced_whole(r: &Remote) {
    let mut m = Manifest {
        format: Manifest::FORMAT,
        peer: peer().to_string(),
        generation: 1,
        host: "h".into(),
        published: vec![],
        last_push_at: None,
        acks: vec![],
        updated_at: None,
    };
    r.write_manifest(&m).unwrap();
    m.generation = 2;
    r.write_manifest(&m).unwrap();
    assert_eq!(r.read_manifest(peer()).unwrap(), Some(m));
    assert_eq!(r.list().unwrap().manifests, vec![peer()]);
}

fn the_trailer_is_the_last_32_bytes(r: &Remote) {
    let mut bytes = b"header and payload ".to_vec();
    bytes.extend_from_slice(&[7u8; 32]);
    r.publish(&name(1, 1), &bytes).unwrap();
    assert_eq!(
        r.read_trailer(&name(1, 1)).unwrap(),
        Some(Checksum([7; 32]))
    );
    r.publish(&name(1, 2), b"short").unwrap();
    assert_eq!(r.read_trailer(&name(1, 2)).unwrap(), None);
    assert!(r.read_trailer(&name(1, 3)).is_err());
}

fn remove_deletes(r: &Remote) {
    r.publish(&name(1, 1), b"x").unwrap();
    r.remove(&name(1, 1)).unwrap();
    assert!(r.list().unwrap().changesets.is_empty());
    r.remove(&name(1, 1)).unwrap();
}

fn snapshots_are_listed_apart(r: &Remote) {
    let part = SnapshotName {
        peer: peer(),
        id: 7,
        part: Some(1),
    };
    r.publish(&part, b"part").unwrap();
    r.publish(&name(1, 1), b"one").unwrap();
    let l = r.list().unwrap();
    assert_eq!(l.changesets, vec![name(1, 1)]);
    assert_eq!(l.snapshots, vec![part]);
    assert_eq!(l.snapshot_files()[&(peer(), 7)], (vec![part], false));
    r.publish(&part.seal(), b"seal").unwrap();
    let l = r.list().unwrap();
    assert_eq!(l.snapshot_files()[&(peer(), 7)], (vec![part], true));
    assert_eq!(r.read(&part).unwrap(), b"part");
    r.remove(&part.seal()).unwrap();
    assert_eq!(r.list().unwrap().snapshots, vec![part]);
}

/// The object layer itself: listing under a prefix and after a name (what lets a cron
/// tick list only what is new), create-if-absent, overwrite, delete, the tail.
fn objects_list_under_a_prefix_after_a_name(o: &dyn Transport) {
    for key in ["a/1", "a/2", "a/3", "b/1", "top"] {
        assert_eq!(o.put_if_absent(key, key.as_bytes()).unwrap(), Created::New);
    }
    assert_eq!(o.put_if_absent("a/2", b"other").unwrap(), Created::Existed);
    assert_eq!(o.get("a/2", 100).unwrap(), b"a/2");
    assert_eq!(
        o.list("", None).unwrap(),
        ["a/1", "a/2", "a/3", "b/1", "top"]
    );
    assert_eq!(o.list("a/", None).unwrap(), ["a/1", "a/2", "a/3"]);
    assert_eq!(o.list("a/", Some("a/1")).unwrap(), ["a/2", "a/3"]);
    assert_eq!(o.list("c/", None).unwrap(), Vec::<String>::new());
    o.put("a/2", b"replaced").unwrap();
    assert_eq!(o.get("a/2", 100).unwrap(), b"replaced");
    assert!(matches!(
        o.get("a/2", 3),
        Err(RemoteError::TooLarge { size: 8, .. })
    ));
    assert_eq!(o.get_tail("a/2", 4).unwrap().unwrap(), b"aced");
    assert_eq!(o.get_tail("a/2", 9).unwrap(), None);
    o.delete("a/2").unwrap();
    o.delete("a/2").unwrap();
    assert!(matches!(
        o.get("a/2", 100),
        Err(RemoteError::NotFound { .. })
    ));
    assert!(matches!(
        o.get_tail("a/2", 1),
        Err(RemoteError::NotFound { .. })
    ));
}

/// The top level lists folders once each; a cron tick's listing starts each peer's folder
/// after what it already has, and still sees later generations, snapshots and manifests.
fn a_listing_after_a_changeset_keeps_what_sorts_after_it(r: &Remote, o: &dyn Transport) {
    for s in 1..=5 {
        r.publish(&name(1, s), b"x").unwrap();
    }
    r.publish(&name(2, 1), b"gen two").unwrap();
    let seal = SnapshotName {
        peer: peer(),
        id: 9,
        part: None,
    };
    r.publish(&seal, b"seal").unwrap();
    r.write_manifest(&manifest()).unwrap();
    let other = PeerId::generate(&SeededIds::new(12));
    let theirs = CsetName {
        peer: other,
        generation: 1,
        seq: 1,
    };
    r.publish(&theirs, b"theirs").unwrap();
    o.put("stray.txt", b"not ours").unwrap();
    let mut top = vec![
        format!("{}/", peer()),
        format!("{other}/"),
        "stray.txt".into(),
    ];
    top.sort();
    assert_eq!(o.list_top().unwrap(), top);

    let after = std::collections::BTreeMap::from([(peer(), name(1, 3))]);
    let l = r.list_after(&after).unwrap();
    let mut want = vec![name(1, 4), name(1, 5), name(2, 1), theirs];
    want.sort();
    assert_eq!(l.changesets, want);
    assert_eq!(l.snapshots, vec![seal]);
    let mut manifests = vec![peer()];
    manifests.sort();
    assert_eq!(l.manifests, manifests);
    assert_eq!(
        r.list_after(&Default::default()).unwrap(),
        r.list().unwrap()
    );
    let mine = r.list_peer(peer(), Some(&name(1, 4))).unwrap();
    assert_eq!(mine.changesets, vec![name(1, 5), name(2, 1)]);
}

fn manifest() -> Manifest {
    Manifest {
        format: Manifest::FORMAT,
        peer: peer().to_string(),
        generation: 1,
        host: "h".into(),
        published: vec![],
        last_push_at: None,
        acks: vec![],
        updated_at: None,
    }
}

macro_rules! remote_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn empty_lists_nothing() {
                let (o, _keep) = $make;
                super::empty_lists_nothing(&Remote::new(o));
            }
            #[test]
            fn publish_then_list_and_read() {
                let (o, _keep) = $make;
                super::publish_then_list_and_read(&Remote::new(o));
            }
            #[test]
            fn republishing_is_idempotent_but_never_replaces() {
                let (o, _keep) = $make;
                super::republishing_is_idempotent_but_never_replaces(&Remote::new(o));
            }
            #[test]
            fn manifests_are_replaced_whole() {
                let (o, _keep) = $make;
                super::manifests_are_replaced_whole(&Remote::new(o));
            }
            #[test]
            fn the_trailer_is_the_last_32_bytes() {
                let (o, _keep) = $make;
                super::the_trailer_is_the_last_32_bytes(&Remote::new(o));
            }
            #[test]
            fn remove_deletes() {
                let (o, _keep) = $make;
                super::remove_deletes(&Remote::new(o));
            }
            #[test]
            fn snapshots_are_listed_apart() {
                let (o, _keep) = $make;
                super::snapshots_are_listed_apart(&Remote::new(o));
            }
            #[test]
            fn a_listing_after_a_changeset_keeps_what_sorts_after_it() {
                let (o, _keep) = $make;
                let r = Remote::new(o.clone());
                super::a_listing_after_a_changeset_keeps_what_sorts_after_it(&r, &o);
            }
            #[test]
            fn objects_list_under_a_prefix_after_a_name() {
                let (o, _keep) = $make;
                super::objects_list_under_a_prefix_after_a_name(&o);
            }
        }
    };
}

remote_suite!(memory, (Memory::new("mem://test"), ()));
remote_suite!(folder, {
    let dir = tempfile::tempdir().unwrap();
    (Folder::open(dir.path()).unwrap(), dir)
});
remote_suite!(s3, {
    let bucket = Bucket::new();
    (bucket.objects(), bucket)
});
remote_suite!(s3_prefix, {
    let bucket = Bucket::with_prefix("team/notes");
    (bucket.objects(), bucket)
});
remote_suite!(s3_seaweedfs, {
    let bucket = Bucket::on(crate::util::s3::seaweedfs());
    (bucket.objects(), bucket)
});
remote_suite!(s3_seaweedfs_prefix, {
    let bucket = Bucket::with_prefix_on(crate::util::s3::seaweedfs(), "team/notes");
    (bucket.objects(), bucket)
});
remote_suite!(ssh, {
    let folder = SshFolder::new();
    (folder.objects(), folder)
});
remote_suite!(webdav, {
    let folder = DavFolder::new();
    (folder.objects(), folder)
});
