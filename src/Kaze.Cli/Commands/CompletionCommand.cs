using System.CommandLine;

namespace Kaze.Cli.Commands;

/// <summary>
/// <c>kaze completion bash|zsh|fish</c>: prints a script that makes the shell complete kaze's
/// commands and options. The scripts ask kaze itself, through System.CommandLine's
/// <c>[suggest:POSITION]</c> directive, so they never go stale as commands change; after the
/// host command's <c>--</c> the shell's own completion (files, commands) takes over.
/// </summary>
internal static class CompletionCommand
{
    /// <summary>The shells there is a script for, in the order the help lists them.</summary>
    public static IReadOnlyList<string> Shells { get; } = ["bash", "zsh", "fish"];

    public static Command Create()
    {
        var shell = new Argument<string>("shell")
        {
            Description = "bash, zsh or fish.",
        };
        shell.AcceptOnlyFromAmong([.. Shells]);
        var completion = new Command(
            "completion",
            "Print a shell completion script for kaze. bash: `source <(kaze completion bash)` in ~/.bashrc; " +
            "zsh: `source <(kaze completion zsh)` in ~/.zshrc (after compinit); fish: `kaze completion fish > ~/.config/fish/completions/kaze.fish`. " +
            "The script asks kaze for the candidates each time, so it follows kaze's commands and options. Exit codes: 0 printed, 2 bad options.")
        {
            shell,
        };
        completion.Action = new UsageCheckedAction("completion", (parse, ct) =>
        {
            StandardOutput.Writer.Write(Script(parse.GetValue(shell)!));
            return Task.FromResult(0);
        });
        return completion;
    }

    /// <summary>The script for <paramref name="shell"/> (one of <see cref="Shells"/>).</summary>
    public static string Script(string shell) => shell switch
    {
        "bash" => Bash,
        "zsh" => Zsh,
        "fish" => Fish,
        _ => throw new ArgumentOutOfRangeException(nameof(shell), shell, "not a shell kaze has a completion script for"),
    };

    // COMP_LINE and COMP_POINT are the line and the cursor; kaze answers one candidate per line and
    // compgen keeps those that start with the word being completed. An empty answer (after `--`,
    // or a value kaze cannot suggest) falls back to bash's default completion (-o default).
    private const string Bash = """
        # kaze completion for bash. Load it with:  source <(kaze completion bash)
        _kaze_complete() {
            local cur="${COMP_WORDS[COMP_CWORD]}" IFS=$'\n'
            local candidates
            candidates=$("${COMP_WORDS[0]}" "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null) || return 0
            COMPREPLY=($(compgen -W "${candidates}" -- "${cur}"))
        }
        complete -o default -o bashdefault -F _kaze_complete kaze

        """;

    // BUFFER and CURSOR are the line and the cursor inside a completion widget.
    private const string Zsh = """
        # kaze completion for zsh. Load it with:  source <(kaze completion zsh)   (after compinit)
        _kaze() {
            local -a candidates
            candidates=("${(@f)$("${words[1]}" "[suggest:${CURSOR}]" "${BUFFER}" 2>/dev/null)}")
            candidates=(${candidates:#})
            if (( ${#candidates} )); then
                compadd -- "${candidates[@]}"
            else
                _files
            fi
        }
        compdef _kaze kaze

        """;

    // commandline -cp is the line up to the cursor, so its length is the cursor's position.
    private const string Fish = """
        # kaze completion for fish. Install it with:  kaze completion fish > ~/.config/fish/completions/kaze.fish
        function __kaze_complete
            set -l line (commandline -cp)
            kaze "[suggest:"(string length -- "$line")"]" "$line" 2>/dev/null
        end
        complete -c kaze -a '(__kaze_complete)'

        """;
}
