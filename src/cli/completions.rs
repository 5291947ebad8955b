//! `context completions SHELL`: clap's script for the commands and flags, and, for bash, zsh
//! and fish, document keys too: where a command takes a KEY, the shell asks `context ls
//! PREFIX` (the live keys of the project, `--project` honoured where it is on the line).

use clap_complete::Shell;

/// The commands whose positional arguments are document keys.
const KEY_COMMANDS: &str = "get put edit rm history restore diff mv resolve";

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut command = <super::Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    // Into a buffer: the generator panics on a write error (a closed pipe).
    clap_complete::generate(shell, &mut command, "context", &mut script);
    match shell {
        Shell::Bash => script.extend_from_slice(bash().as_bytes()),
        Shell::Zsh => {
            script = zsh(&String::from_utf8_lossy(&script)).into_bytes();
        }
        Shell::Fish => script.extend_from_slice(fish().as_bytes()),
        _ => {}
    }
    script
}

fn bash() -> String {
    let commands = KEY_COMMANDS.replace(' ', "|");
    format!(
        r#"
# Document keys, from the store itself, where a command takes a KEY.
_context_keys() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" i
    local project=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        [[ "${{COMP_WORDS[i]}}" == --project ]] && project=(--project "${{COMP_WORDS[i+1]}}")
    done
    case "${{COMP_WORDS[1]}}" in
        {commands})
            case "$prev" in
                --file|--project|--version|--ttl|--keep|--output|--author) ;;
                *)
                    if [[ "$cur" != -* ]]; then
                        local IFS=$'\n'
                        COMPREPLY=($(compgen -W "$(context ls "${{project[@]}}" -- "$cur" 2>/dev/null)" -- "$cur"))
                        [[ ${{#COMPREPLY[@]}} -gt 0 ]] && return 0
                    fi
                    ;;
            esac
            ;;
    esac
    _context "$@"
}}
complete -F _context_keys -o nosort -o bashdefault -o default context
"#
    )
}

/// clap's zsh script with its positional KEY, OLD and NEW arguments completed from the store.
fn zsh(generated: &str) -> String {
    let mut out = String::with_capacity(generated.len() + 512);
    for line in generated.lines() {
        let trimmed = line.trim_start();
        let is_key = ["':key -- ", "':old -- ", "'::key -- "]
            .iter()
            .any(|p| trimmed.starts_with(p));
        if is_key && line.contains(":_default'") {
            out.push_str(&line.replacen(":_default'", ":_context_keys'", 1));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out.push_str(
        r#"
# Document keys, from the store itself, where a command takes a KEY.
(( $+functions[_context_keys] )) ||
_context_keys() {
    local -a keys project
    local i
    for (( i = 2; i < CURRENT; i++ )); do
        [[ "${words[i]}" == --project ]] && project=(--project "${words[i+1]}")
    done
    keys=(${(f)"$(context ls "${project[@]}" -- "$PREFIX" 2>/dev/null)"})
    _describe -t keys 'document key' keys
}
"#,
    );
    out
}

fn fish() -> String {
    format!(
        "\n# Document keys, from the store itself, where a command takes a KEY.\n\
         complete -c context -n '__fish_seen_subcommand_from {KEY_COMMANDS}' -f \
         -a '(context ls -- (commandline -ct) 2>/dev/null)'\n"
    )
}
