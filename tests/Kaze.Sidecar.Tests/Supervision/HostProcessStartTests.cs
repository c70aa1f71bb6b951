using Kaze.Sidecar.Supervision;
using Kaze.Sidecar.Tests.TestSupport;

namespace Kaze.Sidecar.Tests.Supervision;

/// <summary>Commands that cannot be started come back as values with a shell's exit code and message.</summary>
public sealed class HostProcessStartTests
{
    [Fact]
    public void Start_CommandNotInPath_Returns127CommandNotFound()
    {
        HostStartFailure failure = StartExpectingFailure("kaze-no-such-command-7f3a");

        Assert.Equal(HostStartError.CommandNotFound, failure.Error);
        Assert.Equal(127, failure.ExitCode);
        Assert.Equal("kaze: kaze-no-such-command-7f3a: command not found", failure.Message);
    }

    [Fact]
    public void Start_MissingPath_Returns127NoSuchFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("missing");

        HostStartFailure failure = StartExpectingFailure(path);

        Assert.Equal(HostStartError.NoSuchFile, failure.Error);
        Assert.Equal(127, failure.ExitCode);
        Assert.Equal($"kaze: {path}: no such file or directory", failure.Message);
    }

    [Fact]
    public void Start_FileWithoutExecuteBit_Returns126PermissionDenied()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteFile("plain", "#!/bin/sh\nexit 0\n", TempDirectory.NotExecutable);

        HostStartFailure failure = StartExpectingFailure(path);

        Assert.Equal(HostStartError.PermissionDenied, failure.Error);
        Assert.Equal(126, failure.ExitCode);
        Assert.Equal($"kaze: {path}: permission denied", failure.Message);
    }

    [Fact]
    public void Start_NameFoundInPathOnlyAsNonExecutable_Returns126PermissionDenied()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteFile("kaze-tool", "exit 0\n", TempDirectory.NotExecutable);

        HostStartFailure failure = StartExpectingFailure("kaze-tool", new Dictionary<string, string?> { ["PATH"] = dir.Path });

        Assert.Equal(HostStartError.PermissionDenied, failure.Error);
        Assert.Equal(126, failure.ExitCode);
        Assert.Equal(path, failure.Path);
        Assert.Equal("kaze: kaze-tool: permission denied", failure.Message);
    }

    [Fact]
    public void Start_Directory_Returns126IsADirectory()
    {
        using var dir = new TempDirectory();

        HostStartFailure failure = StartExpectingFailure(dir.Path);

        Assert.Equal(HostStartError.IsADirectory, failure.Error);
        Assert.Equal(126, failure.ExitCode);
        Assert.Equal($"kaze: {dir.Path}: is a directory", failure.Message);
    }

    [Fact]
    public void Start_ScriptWithMissingInterpreter_Returns127RequiredFileNotFound()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteFile("script", "#!/nonexistent/interpreter\nexit 0\n", TempDirectory.Executable);

        HostStartFailure failure = StartExpectingFailure(path);

        Assert.Equal(HostStartError.RequiredFileNotFound, failure.Error);
        Assert.Equal(127, failure.ExitCode);
        Assert.Equal(2, failure.NativeErrorCode);
        Assert.StartsWith($"kaze: {path}: cannot execute: required file not found", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_ExecutableBinaryGarbage_Returns126ExecFormatError()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteFile("garbage", [0x7f, 0x00, 0x01, 0x02, 0x00, 0x00, 0xff, 0xfe], TempDirectory.Executable);

        HostStartFailure failure = StartExpectingFailure(path);

        Assert.Equal(HostStartError.ExecFormatError, failure.Error);
        Assert.Equal(126, failure.ExitCode);
        Assert.Equal(8, failure.NativeErrorCode);
    }

    [Fact]
    public async Task Start_ExecutableTextWithoutShebang_RunsItWithBinSh()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteFile("noshebang", "test \"$1\" = first && test \"$2\" = 'sec ond' && exit 5\nexit 1\n", TempDirectory.Executable);

        HostStartResult result = HostProcess.Start(new HostProcessOptions { Command = path, Arguments = ["first", "sec ond"], ForwardSignals = false });

        Assert.True(result.IsStarted, result.Failure?.Message);
        using HostProcess host = result.Process;
        Assert.Equal(5, await host.Exited.Within("the shebang-less script to exit"));
    }

    [Fact]
    public async Task Start_RelativePathWithSlash_ResolvedAgainstWorkingDirectory()
    {
        using var dir = new TempDirectory();
        dir.WriteFile("tool", "#!/bin/sh\nexit 4\n", TempDirectory.Executable);

        HostStartResult result = HostProcess.Start(new HostProcessOptions { Command = "./tool", WorkingDirectory = dir.Path, ForwardSignals = false });

        Assert.True(result.IsStarted, result.Failure?.Message);
        using HostProcess host = result.Process;
        Assert.Equal(dir.File("tool"), host.ExecutablePath);
        Assert.Equal(4, await host.Exited.Within("./tool to exit"));
    }

    [Fact]
    public async Task Start_PathOverriddenInEnvironment_LooksUpInTheChildsPath()
    {
        using var dir = new TempDirectory();
        dir.WriteFile("kaze-only-here", "#!/bin/sh\nexit 11\n", TempDirectory.Executable);

        HostStartResult result = HostProcess.Start(new HostProcessOptions
        {
            Command = "kaze-only-here",
            Environment = new Dictionary<string, string?> { ["PATH"] = "/nonexistent:" + dir.Path },
            ForwardSignals = false,
        });

        Assert.True(result.IsStarted, result.Failure?.Message);
        using HostProcess host = result.Process;
        Assert.Equal(11, await host.Exited.Within("the tool found through the child's PATH to exit"));
    }

    private static HostStartFailure StartExpectingFailure(string command, IReadOnlyDictionary<string, string?>? environment = null)
    {
        HostStartResult result = HostProcess.Start(new HostProcessOptions
        {
            Command = command,
            Environment = environment ?? new Dictionary<string, string?>(),
            ForwardSignals = false,
        });
        if (result.IsStarted)
        {
            result.Process.Dispose();
            Assert.Fail($"'{command}' started, but it should not have.");
        }

        return result.Failure;
    }
}
