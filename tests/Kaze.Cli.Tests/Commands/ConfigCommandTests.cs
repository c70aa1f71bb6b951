using System.Text.Json;
using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Commands;

/// <summary>`kaze config dump`: the layers in order, comments that say what set a value, and a text that reads back as the same configuration.</summary>
public sealed class ConfigDumpCommandTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task ConfigDump_FileEnvironmentAndFlags_LaterLayerWinsAndTheCommentSaysWhich()
    {
        File.WriteAllText(Path.Combine(_runs.Directory, "kaze.json"), """
            {
              // found in the working directory
              "ident": "0.0.0.7",
              "run": { "grace": "2s" },
              "corral": { "idleTimeout": "30s", "connectTimeout": "9s" }
            }
            """);
        var environment = new Dictionary<string, string> { ["KAZE_RUN__GRACE"] = "3s", ["KAZE_CORRAL__CONNECTTIMEOUT"] = "1s" };
        using KazeProcess dump = KazeProcess.Start(["config", "dump", "--grace", "4s", "--listen", "off"], _runs.Directory, _runs.Directory, environment);

        int code = await dump.WaitForExitAndOutputAsync("kaze config dump with a file, environment variables and flags");

        Assert.True(code == 0, dump.Describe());
        IReadOnlyList<string> lines = dump.Stdout.Lines;
        AssertSetting(lines, "\"ident\": \"0.0.0.7\"", "Set by the file.");
        AssertSetting(lines, "\"grace\": \"4s\"", "Set by the command line.");
        AssertSetting(lines, "\"listen\": \"off\"", "Set by the command line.");
        AssertSetting(lines, "\"connectTimeout\": \"1s\"", "Set by the environment (KAZE_CORRAL__CONNECTTIMEOUT).");
        AssertSetting(lines, "\"idleTimeout\": \"30s\"", "Set by the file.");
        AssertSetting(lines, "\"handshakeTimeout\": \"5s\"", "Default: 5s.");
        Assert.Contains(lines, l => l.Trim() == "// \"secretFile\": not set");
        Assert.Empty(dump.Stderr.Lines);
    }

    [Fact]
    public async Task ConfigDump_SavedAndGivenBackWithConfig_ReadsAsTheSameConfiguration()
    {
        string input = Path.Combine(_runs.Directory, "input.json");
        File.WriteAllText(input, """
            {
              "corral": { "maxQueuedPackets": 500 },
              "log": { "levels": { "Host": "info", "Kaze.Sidecar": "debug" } }
            }
            """);
        (int firstCode, KazeProcess first) = await OperatorCommandRuns.RunAsync(
            _runs, "the first kaze config dump", "config", "dump", "--config", input, "--ident", "0.0.0.7", "--listen", "off", "--metrics", "off", "--node", "0.0.0.9=127.0.0.1:7109", "--grace", "2s");
        Assert.True(firstCode == 0, first.Describe());
        string saved = Path.Combine(_runs.Directory, "saved.json");
        File.WriteAllText(saved, first.Stdout.Text + "\n");

        // Valid JSON with comments for any reader, not only kaze's: no trailing commas.
        using (JsonDocument.Parse(File.ReadAllText(saved), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip }))
        {
        }

        (int secondCode, KazeProcess second) = await OperatorCommandRuns.RunAsync(_runs, "kaze config dump --config saved.json", "config", "dump", "--config", saved);
        (int checkCode, KazeProcess check) = await OperatorCommandRuns.RunAsync(_runs, "kaze config check saved.json", "config", "check", saved);
        string channel = _runs.NewChannel();
        (int runCode, KazeProcess run) = await OperatorCommandRuns.RunAsync(_runs, "kaze run --config saved.json", "run", "--config", saved, "--channel", channel, "--", "sh", "-c", "echo \"$KAZE_IDENT\"");

        Assert.True(secondCode == 0, second.Describe());
        Assert.Equal(Values(first.Stdout.Lines), Values(second.Stdout.Lines));
        Assert.Contains("\"maxQueuedPackets\": \"500\"", Values(second.Stdout.Lines));
        Assert.Contains("\"0.0.0.9\": \"127.0.0.1:7109\"", Values(second.Stdout.Lines));
        Assert.True(checkCode == 0, check.Describe());
        Assert.Equal([$"{saved}: ok"], check.Stdout.Lines);
        Assert.True(runCode == 0, run.Describe());
        Assert.Equal(["0.0.0.7"], run.Stdout.Lines);
    }

    [Fact]
    public async Task ConfigDump_UnknownKeys_ArePrintedAndListedAsProblemsWithExit2()
    {
        string input = Path.Combine(_runs.Directory, "input.json");
        File.WriteAllText(input, """
            {
              "someplugin": { "names": [ "a", "b" ], "limit": 3 }
            }
            """);

        (int code, KazeProcess dump) = await OperatorCommandRuns.RunAsync(_runs, "kaze config dump of a file with an unknown key", "config", "dump", "--config", input);

        Assert.True(code == 2, dump.Describe());
        Assert.Contains("\"someplugin\": {", Values(dump.Stdout.Lines));
        Assert.Contains("\"b\"", Values(dump.Stdout.Lines));
        Assert.Contains($"kaze config dump: invalid: {input}: someplugin: not a kaze setting", dump.Stderr.Lines);
    }

    // The JSON of a dump without its comments (what a reader of the file gets), one member or bracket a line, commas aside.
    private static List<string> Values(IEnumerable<string> lines) =>
        [.. lines.Select(l => l.Trim().TrimEnd(',')).Where(l => l.Length > 0 && !l.StartsWith("//", StringComparison.Ordinal))];

    private static void AssertSetting(IReadOnlyList<string> lines, string member, string commentPart)
    {
        int index = lines.ToList().FindIndex(l => l.Trim().TrimEnd(',') == member);
        Assert.True(index > 0, $"no line {member} in:\n{string.Join('\n', lines)}");
        Assert.Contains(commentPart, lines[index - 1], StringComparison.Ordinal);
    }
}

/// <summary>`kaze config check FILE`: ok, or every problem with its key, its value and what is allowed.</summary>
public sealed class ConfigCheckCommandTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task ConfigCheck_ValidFile_SaysOkAndExits0()
    {
        string file = Write("good.json", """
            {
              // comments are fine
              "ident": "0.0.0.4",
              "listen": "127.0.0.1:7104",
              "nodes": { "0.0.0.5": "127.0.0.1:7105" },
              "corral": { "idleTimeout": "30s" }
            }
            """);

        (int code, KazeProcess check) = await OperatorCommandRuns.RunAsync(_runs, "kaze config check of a valid file", "config", "check", file);

        Assert.True(code == 0, check.Describe());
        Assert.Equal([$"{file}: ok"], check.Stdout.Lines);
        Assert.Empty(check.Stderr.Lines);
    }

    [Fact]
    public async Task ConfigCheck_BadValuesAndUnknownKeys_Exits2ListingEveryProblem()
    {
        string file = Write("bad.json", """
            {
              "idnet": "0.0.0.2",
              "ident": "x",
              "listen": "nope",
              "run": { "grace": "abc" },
              "corral": { "handshakeTimeot": "5s" }
            }
            """);

        (int code, KazeProcess check) = await OperatorCommandRuns.RunAsync(_runs, "kaze config check of a bad file", "config", "check", file);

        Assert.True(code == 2, $"expected 2, got {code}\n{check.Describe()}");
        IReadOnlyList<string> errors = check.Stderr.Lines;
        string prefix = $"kaze config check: {file}: ";
        AssertLine(errors, prefix + "ident: 'x' is not an ident: expected four numbers 0-255 separated by dots");
        AssertLine(errors, prefix + "listen: 'nope' is not an address: expected HOST:PORT");
        AssertLine(errors, prefix + "run:grace: 'abc' is not a duration: use e.g. 5s");
        AssertLine(errors, prefix + "corral:handshakeTimeot: not a setting of \"corral\" (did you mean \"handshakeTimeout\"?)");
        AssertLine(errors, prefix + "idnet: not a kaze setting (did you mean \"ident\"?)");
        AssertLine(errors, prefix + "5 problems");
        Assert.Empty(check.Stdout.Lines);
    }

    [Fact]
    public async Task ConfigCheck_NotJson_Exits2SayingWhere()
    {
        string file = Write("broken.json", "{ \"ident\": \"0.0.0.2\",\n  \"listen\" \"off\" }\n");

        (int code, KazeProcess check) = await OperatorCommandRuns.RunAsync(_runs, "kaze config check of a file that is not JSON", "config", "check", file);

        Assert.True(code == 2, $"expected 2, got {code}\n{check.Describe()}");
        Assert.Contains(check.Stderr.Lines, l => l.StartsWith($"kaze config check: {file}: ", StringComparison.Ordinal) && l.Contains("LineNumber: 1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ConfigCheck_MissingFile_Exits2()
    {
        string file = Path.Combine(_runs.Directory, "absent.json");

        (int code, KazeProcess check) = await OperatorCommandRuns.RunAsync(_runs, "kaze config check of a file that does not exist", "config", "check", file);

        Assert.True(code == 2, $"expected 2, got {code}\n{check.Describe()}");
        Assert.Contains($"kaze config check: {file}: configuration file not found", check.Stderr.Lines);
    }

    private static void AssertLine(IReadOnlyList<string> lines, string start) =>
        Assert.True(lines.Any(l => l.StartsWith(start, StringComparison.Ordinal)), $"no line starts with:\n{start}\nin:\n{string.Join('\n', lines)}");

    private string Write(string name, string content)
    {
        string path = Path.Combine(_runs.Directory, name);
        File.WriteAllText(path, content);
        return path;
    }
}
