using System.Collections;
using System.Runtime.InteropServices;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Kaze.Sidecar.Plugins;
using Microsoft.Extensions.Configuration;

namespace Kaze.Cli.Commands;

/// <summary>
/// A Native AOT kaze has no third-party plugins and no HTTP gateway (they need the JIT: see
/// <see cref="JitOnlyFeatures"/>). Given a configuration that needs them, `kaze run` and `kaze
/// sidecar` exec the JIT build of the same CLI in their place, with the same arguments and
/// environment (and the same pid): <c>$KAZE_JIT</c>, or <c>jit/kaze</c> beside the executable.
/// See docs/cli.md, "Native AOT".
/// </summary>
internal static partial class JitBuild
{
    /// <summary>The JIT build's executable, when not in <c>jit/kaze</c> beside this one.</summary>
    public const string PathVariable = "KAZE_JIT";

    /// <summary>Set for the JIT build kaze execs: a JIT build never defers, so seeing it set here means KAZE_JIT is a Native AOT build.</summary>
    public const string DeferredVariable = "KAZE_JIT_DEFERRED";

    /// <summary>
    /// Null when this build runs <paramref name="settings"/> itself (always, in a JIT build).
    /// Otherwise it execs the JIT build and does not return, or says on stderr why it cannot and
    /// returns the exit code: 2 when there is no JIT build, 70 when the exec failed.
    /// </summary>
    public static int? DeferIfNeeded(string command, KazeSettings settings, IConfiguration configuration, bool withHost)
    {
        if (JitOnlyFeatures.IsSupported)
        {
            return null;
        }

        string? needs = Needs(settings, configuration, withHost);
        if (needs is null)
        {
            return null;
        }

        string? configured = Environment.GetEnvironmentVariable(PathVariable);
        string target = string.IsNullOrEmpty(configured) ? Path.Combine(AppContext.BaseDirectory, "jit", "kaze") : configured;
        if (Environment.GetEnvironmentVariable(DeferredVariable) is not null)
        {
            StandardError.WriteLine($"kaze {command}: {needs} need the JIT build of kaze, but '{target}' is a Native AOT build too (it was deferred to already)");
            return CommandSettings.UsageError;
        }

        if (!File.Exists(target))
        {
            StandardError.WriteLine($"kaze {command}: {needs} need the JIT build of kaze, which this Native AOT build runs in its place: "
                + $"there is none at '{target}' (publish it there, or set {PathVariable}; see docs/cli.md, \"Native AOT\")");
            return CommandSettings.UsageError;
        }

        string?[] argv = [target, .. Environment.GetCommandLineArgs().AsSpan(1), null];
        var environment = new List<string?>();
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            if ((string)variable.Key != DeferredVariable)
            {
                environment.Add($"{variable.Key}={variable.Value}");
            }
        }

        environment.Add(DeferredVariable + "=1");
        environment.Add(null);
        StandardError.Writer.Flush();
        Exec(target, argv, [.. environment]);
        StandardError.WriteLine($"kaze {command}: cannot run the JIT build '{target}': {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return SidecarStartup.CannotStart;
    }

    /// <summary>What in the settings needs the JIT build, for the message; null when nothing does.</summary>
    internal static string? Needs(KazeSettings settings, IConfiguration configuration, bool withHost)
    {
        IConfigurationSection plugins = configuration.GetSection(PluginLoader.SectionName);
        bool withPlugins = !string.IsNullOrEmpty(plugins.Value) || plugins.GetChildren().Any();
        bool withHttp = withHost && settings.Http.Enabled;
        return (withPlugins, withHttp) switch
        {
            (true, true) => "third-party plugins (\"plugins\") and the HTTP gateway (http:port, http:appPort)",
            (true, false) => "third-party plugins (\"plugins\")",
            (false, true) => "the HTTP gateway (http:port, http:appPort)",
            _ => null,
        };
    }

    [LibraryImport("libc", EntryPoint = "execve", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Exec(string path, string?[] argv, string?[] envp);
}
