using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Commands;

/// <summary>
/// One verdict on settings, whoever asks: <c>kaze config check FILE</c> and <c>kaze run --config
/// FILE</c> print the same problems and exit 2 for every file of a corpus of bad ones; every
/// settings or secret-file problem is a message and exit 2, never a stack trace, in a real process.
/// </summary>
public sealed class ConfigVerdictTests : IDisposable
{
    // Bad kaze.json files, one kind of mistake each (and one with many).
    private static readonly (string Name, string Json)[] BadFiles =
    [
        ("ident-object", """{ "ident": { "value": "0.0.0.2" } }"""),
        ("ident-any", """{ "ident": "0.0.0.0" }"""),
        ("nodes-text", """{ "nodes": "0.0.0.2=127.0.0.1:7102" }"""),
        ("typo-in-section", """{ "corral": { "idleTimout": "5s" } }"""),
        ("typo-top-level", """{ "idnet": "0.0.0.2" }"""),
        ("run-grase", """{ "run": { "grase": "1s" } }"""),
        ("rate-limit-typo", """{ "rateLimits": { "total": { "permitsPerSecond": 5, "brust": 10 } } }"""),
        ("rate-limit-missing", """{ "rateLimits": { "perBodyType": { "echo": { "burst": 10 } } } }"""),
        ("metrics-nowhere", """{ "metrics": { "listen": "nowhere" } }"""),
        ("frame-too-small", """{ "corral": { "maxFrameSize": 100 } }"""),
        ("timeout-too-long", """{ "corral": { "idleTimeout": "600h" } }"""),
        ("grace-too-long", """{ "run": { "grace": "30d" } }"""),
        ("secret-missing", """{ "secretFile": "/nonexistent/kaze-secret" }"""),
        ("plugin-missing", """{ "plugins": { "hello": { "assembly": "/nonexistent/hello.dll" } } }"""),
        ("etcd-not-a-url", """{ "discovery": { "etcd": { "endpoints": ["ftp://10.0.0.1:2379"] } } }"""),
        ("etcd-typo", """{ "discovery": { "etcd": { "endpoint": "http://127.0.0.1:2379" } } }"""),
        ("etcd-ttl-fraction", """{ "discovery": { "etcd": { "endpoints": "http://127.0.0.1:2379", "ttl": "2.5s" } } }"""),
        ("names-bad", """{ "names": ["Orders", "billing"] }"""),
        ("not-json", "{ \"ident\": \"0.0.0.2\",\n  \"listen\" \"off\" }"),
        ("many", """{ "ident": "x", "listen": [1], "run": { "grace": "abc" }, "corral": { "reconnectMin": "5s", "reconnectMax": "1s" }, "log": { "level": "loud", "levels": { "Host": { "x": "info" } } } }"""),
    ];

    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task CheckAndRun_OverACorpusOfBadFiles_GiveTheSameProblemsAndExit2()
    {
        var failures = new List<string>();
        // A few at a time: each is a .NET process start, and the machine is small and shared.
        using var slots = new SemaphoreSlim(2);
        await Task.WhenAll(BadFiles.Select(async bad =>
        {
            await slots.WaitAsync();
            using var slot = new Releaser(slots);
            string file = Path.Combine(_runs.Directory, bad.Name + ".json");
            await File.WriteAllTextAsync(file, bad.Json);
            string channel = _runs.NewChannel();
            Task<(int, KazeProcess)> check = OperatorCommandRuns.RunAsync(_runs, $"kaze config check {bad.Name}.json", "config", "check", file);
            Task<(int, KazeProcess)> run = OperatorCommandRuns.RunAsync(_runs, $"kaze run --config {bad.Name}.json", "run", "--config", file, "--channel", channel, "--", "true");
            (int checkCode, KazeProcess checkProcess) = await check;
            (int runCode, KazeProcess runProcess) = await run;

            List<string> checkProblems = Problems(checkProcess, "kaze config check: ", file);
            List<string> runProblems = Problems(runProcess, "kaze run: ", file);
            lock (failures)
            {
                if (checkCode != 2 || runCode != 2)
                {
                    failures.Add($"{bad.Name}: exit codes check {checkCode}, run {runCode} (expected 2, 2)\n{checkProcess.Describe()}\n{runProcess.Describe()}");
                }
                else if (checkProblems.Count == 0 || !checkProblems.SequenceEqual(runProblems))
                {
                    failures.Add($"{bad.Name}: check said\n  {string.Join("\n  ", checkProblems)}\nrun said\n  {string.Join("\n  ", runProblems)}");
                }
                else if (checkProblems.Any(p => !p.StartsWith(file + ": ", StringComparison.Ordinal)))
                {
                    failures.Add($"{bad.Name}: a problem does not name the file:\n  {string.Join("\n  ", checkProblems)}");
                }

                AddIfStackTrace(failures, bad.Name, checkProcess);
                AddIfStackTrace(failures, bad.Name, runProcess);
            }
        }));

        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    [Fact]
    public async Task CheckAndRun_GoodFile_BothAccept()
    {
        string file = Path.Combine(_runs.Directory, "good.json");
        await File.WriteAllTextAsync(file, """
            {
              "$schema": "./kaze.schema.json",
              "ident": "0.0.0.4",
              "nodes": { "0.0.0.5": "127.0.0.1:7105" },
              "corral": { "idleTimeout": "30s" },
              "rateLimits": { "total": { "permitsPerSecond": 1000 } },
              "log": { "levels": { "Host": "info" } }
            }
            """);

        (int checkCode, KazeProcess check) = await OperatorCommandRuns.RunAsync(_runs, "kaze config check good.json", "config", "check", file);
        (int runCode, KazeProcess run) = await OperatorCommandRuns.RunAsync(
            _runs, "kaze run --config good.json", "run", "--config", file, "--listen", "off", "--metrics", "off", "--channel", _runs.NewChannel(), "--", "sh", "-c", "echo \"$KAZE_IDENT\"");

        Assert.True(checkCode == 0, check.Describe());
        Assert.True(runCode == 0, run.Describe());
        Assert.Equal(["0.0.0.4"], run.Stdout.Lines);
    }

    [Theory]
    [InlineData("0644", "hunter2\n", "can be read by every user")]
    [InlineData("0600", "", "is empty")]
    [InlineData("0600", null, "has 100000 bytes; a secret file has at most 65536")]
    [InlineData("dir", null, "is a directory; name the file that holds the secret")]
    public async Task Run_BadSecretFile_MessageAndExit2NoStackTrace(string kind, string? content, string expected)
    {
        string path = Path.Combine(_runs.Directory, "secret-" + kind);
        if (kind == "dir")
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            await File.WriteAllBytesAsync(path, content is null ? new byte[100_000] : System.Text.Encoding.UTF8.GetBytes(content));
            File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32(kind, 8));
        }

        (int code, KazeProcess run) = await OperatorCommandRuns.RunAsync(
            _runs, $"kaze run --secret-file ({kind})", "run", "--secret-file", path, "--channel", _runs.NewChannel(), "--", "true");

        Assert.True(code == 2, run.Describe());
        string line = Assert.Single(run.Stderr.Lines);
        Assert.StartsWith("kaze run: command line: secretFile: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("KAZE_CORRAL__MAXFRAMESIZE", "100", "kaze run: KAZE_CORRAL__MAXFRAMESIZE (environment): corral:maxFrameSize: 100 is not from 1KiB to 2147483643")]
    [InlineData("KAZE_CORRAL__IDLETIMEOUT", "600h", "kaze run: KAZE_CORRAL__IDLETIMEOUT (environment): corral:idleTimeout: 600h is not from 1ms to 24d")]
    [InlineData("KAZE_CORRAL__IDLETIMOUT", "5s", "kaze run: KAZE_CORRAL__IDLETIMOUT (environment): corral:idletimout: not a setting of \"corral\" (did you mean \"idleTimeout\"?)")]
    public async Task Run_BadEnvironmentVariable_MessageAndExit2NoStackTrace(string variable, string value, string expected)
    {
        KazeProcess run = _runs.Start(["run", "--channel", _runs.NewChannel(), "--", "true"], new Dictionary<string, string> { [variable] = value });

        int code = await run.WaitForExitAndOutputAsync($"kaze run with {variable}={value}");

        Assert.True(code == 2, run.Describe());
        Assert.StartsWith(expected, Assert.Single(run.Stderr.Lines), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--name", "Orders_1" }, "kaze run: command line: names: 'Orders_1' has the character 'O'")]
    [InlineData(new[] { "--name", "a234567890123456789012345678901234567890123456789012345678901234" }, "is 64 characters long: a service name has at most 63")]
    [InlineData(new[] { "--etcd", "127.0.0.1:2379" }, "kaze run: command line: discovery:etcd:endpoints: '127.0.0.1:2379' is not an http:// or https:// URL of an etcd member")]
    [InlineData(new[] { "--etcd", "http://127.0.0.1:2379/v3" }, "kaze run: command line: discovery:etcd:endpoints: 'http://127.0.0.1:2379/v3' has more than a scheme, host and port")]
    public async Task Run_BadNameOrEtcdUrl_MessageNamingSettingAndValueAndExit2(string[] flags, string expected)
    {
        KazeProcess run = _runs.Start(["run", "--listen", "off", "--metrics", "off", "--channel", _runs.NewChannel(), .. flags, "--", "true"]);

        int code = await run.WaitForExitAndOutputAsync($"kaze run {string.Join(' ', flags)}");

        Assert.True(code == 2, run.Describe());
        Assert.Contains(expected, Assert.Single(run.Stderr.Lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_EtcdThatDoesNotAnswer_MessageNamingSettingAndValueAndExit2()
    {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        KazeProcess run = _runs.Start(["run", "--listen", "127.0.0.1:0", "--metrics", "off", "--channel", _runs.NewChannel(), "--etcd", "http://127.0.0.1:1", "--", "true"]);

        int code = await run.WaitForExitAndOutputAsync("kaze run with an etcd that does not answer", TimeSpan.FromSeconds(30));

        Assert.True(code == 2, run.Describe());
        Assert.StartsWith("kaze: discovery:etcd:endpoints: http://127.0.0.1:1/ cannot be used: ", Assert.Single(run.Stderr.Lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_IdentAny_IsRefusedWithExit2()
    {
        (int code, KazeProcess run) = await OperatorCommandRuns.RunAsync(_runs, "kaze run --ident 0.0.0.0", "run", "--ident", "0.0.0.0", "--channel", _runs.NewChannel(), "--", "true");

        Assert.True(code == 2, run.Describe());
        Assert.StartsWith("kaze run: command line: ident: '0.0.0.0' is not a node's ident", Assert.Single(run.Stderr.Lines), StringComparison.Ordinal);
    }

    private sealed class Releaser(SemaphoreSlim semaphore) : IDisposable
    {
        public void Dispose() => semaphore.Release();
    }

    // The problem lines, without the command's prefix and check's closing count.
    private static List<string> Problems(KazeProcess kaze, string prefix, string file) =>
        [.. kaze.Stderr.Lines
            .Where(l => l.StartsWith(prefix, StringComparison.Ordinal))
            .Select(l => l[prefix.Length..])
            .Where(l => !System.Text.RegularExpressions.Regex.IsMatch(l, "^" + System.Text.RegularExpressions.Regex.Escape(file) + ": [0-9]+ problems?$"))];

    private static void AddIfStackTrace(List<string> failures, string name, KazeProcess kaze)
    {
        if (kaze.Stderr.Lines.Any(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.Contains("Unhandled exception", StringComparison.Ordinal)))
        {
            failures.Add($"{name}: a stack trace:\n{kaze.Describe()}");
        }
    }
}
