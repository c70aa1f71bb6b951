using Kaze.Sidecar.Supervision;
using Kaze.Sidecar.Tests.TestSupport;

namespace Kaze.Sidecar.Tests.Supervision;

public sealed class CommandResolverTests
{
    [Fact]
    public void Resolve_NameInSeveralPathDirectories_FirstExecutableWins()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("a"));
        Directory.CreateDirectory(dir.File("b"));
        Directory.CreateDirectory(dir.File("c"));
        File.WriteAllText(dir.File("a/tool"), "");                     // not executable: skipped
        File.SetUnixFileMode(dir.File("a/tool"), TempDirectory.NotExecutable);
        Directory.CreateDirectory(dir.File("b/tool"));                 // a directory: skipped
        dir.WriteFile("c/tool", "", TempDirectory.Executable);

        CommandResolution resolution = CommandResolver.Resolve("tool", $"{dir.File("a")}:{dir.File("b")}:{dir.File("c")}", "/");

        Assert.Equal(dir.File("c/tool"), resolution.Path);
    }

    [Fact]
    public void Resolve_OnlyNonExecutableMatches_PermissionDeniedForTheFirst()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("a"));
        Directory.CreateDirectory(dir.File("b"));
        dir.WriteFile("a/tool", "", TempDirectory.NotExecutable);
        dir.WriteFile("b/tool", "", TempDirectory.NotExecutable);

        CommandResolution resolution = CommandResolver.Resolve("tool", $"{dir.File("a")}:{dir.File("b")}", "/");

        Assert.Null(resolution.Path);
        Assert.Equal(HostStartError.PermissionDenied, resolution.Error);
        Assert.Equal(dir.File("a/tool"), resolution.ErrorPath);
    }

    [Fact]
    public void Resolve_OnlyADirectoryMatches_CommandNotFound()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("tool"));

        CommandResolution resolution = CommandResolver.Resolve("tool", dir.Path, "/");

        Assert.Null(resolution.Path);
        Assert.Equal(HostStartError.CommandNotFound, resolution.Error);
    }

    [Theory]
    [InlineData(":/nonexistent")]
    [InlineData("/nonexistent:")]
    [InlineData("/nonexistent::/nonexistent2")]
    public void Resolve_EmptyPathEntry_MeansWorkingDirectory(string searchPath)
    {
        using var dir = new TempDirectory();
        dir.WriteFile("tool", "", TempDirectory.Executable);

        CommandResolution resolution = CommandResolver.Resolve("tool", searchPath, dir.Path);

        Assert.Equal(dir.File("tool"), resolution.Path);
    }

    [Fact]
    public void Resolve_NameInWorkingDirectoryButNotInPath_CommandNotFound()
    {
        // Unlike Process.Start, which would run ./tool.
        using var dir = new TempDirectory();
        dir.WriteFile("tool", "", TempDirectory.Executable);

        CommandResolution resolution = CommandResolver.Resolve("tool", "/nonexistent", dir.Path);

        Assert.Equal(HostStartError.CommandNotFound, resolution.Error);
    }

    [Fact]
    public void Resolve_NoPathVariable_SearchesBinAndUsrBin()
    {
        CommandResolution resolution = CommandResolver.Resolve("sh", searchPath: null, "/");

        Assert.Contains(resolution.Path, new[] { "/bin/sh", "/usr/bin/sh" });
    }

    [Fact]
    public void Resolve_PathWithSlash_NotSearchedInPath()
    {
        CommandResolution resolution = CommandResolver.Resolve("bin/sh", "/usr", "/");

        Assert.Equal("/bin/sh", resolution.Path);
    }
}
