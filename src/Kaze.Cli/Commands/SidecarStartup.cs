using Kaze.Core;
using Kaze.Mesh;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Kaze.Cli.Commands;

/// <summary>What `kaze run` and `kaze sidecar` share: composing the sidecar and starting it, or saying in one line why not.</summary>
internal static class SidecarStartup
{
    /// <summary>sysexits.h EX_SOFTWARE: kaze could not start for a reason that is not the settings' (a bug, or the machine).</summary>
    public const int CannotStart = 70;

    /// <summary>sysexits.h EX_TEMPFAIL: a live sidecar holds this node's ident in etcd (try again once it is gone).</summary>
    public const int IdentHeld = 75;

    /// <summary>
    /// Builds the sidecar with the built-in plugins and those <paramref name="configuration"/>
    /// lists, logging through <paramref name="loggers"/>, and starts it. On failure the reason is
    /// on stderr, the app is stopped and disposed, and the result has no app and kaze's exit code:
    /// 2 for a plugin or an etcd that does not answer, 73 for a channel that cannot be created, 69 for
    /// an address that cannot be bound, 75 for an ident a live sidecar holds in etcd.
    /// </summary>
    public static async Task<(SidecarApp? App, int ExitCode)> StartAsync(KazeSettings settings, IConfiguration configuration, ILoggerFactory loggers, bool withHost)
    {
        SidecarApp app;
        try
        {
            app = SidecarApp.Build(settings, withHost, loggers, configuration, BuiltInPlugins.Create(configuration));
        }
        catch (PluginException e)
        {
            StandardError.WriteLine("kaze: " + e.Message);
            return (null, CommandSettings.UsageError);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            // Settings are checked before this (KazeSettings.Read): what is left is a bug or the
            // machine, reported in one line rather than as a stack trace.
            StandardError.WriteLine($"kaze: cannot start: {e.Message} ({e.GetType().Name})");
            return (null, CannotStart);
        }

        try
        {
            await app.StartAsync().ConfigureAwait(false);
            return (app, 0);
        }
        catch (ChannelException e)
        {
            StandardError.WriteLine("kaze: cannot create channel: " + e.Message);
            await app.DisposeAsync().ConfigureAwait(false);
            return (null, RunCommand.CannotCreateChannel);
        }
        catch (HttpListenException e)
        {
            StandardError.WriteLine("kaze: cannot listen: " + e.Message);
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            return (null, RunCommand.CannotListen);
        }
        catch (Kaze.Resolver.IdentHeldException e)
        {
            StandardError.WriteLine("kaze: cannot register in etcd: " + e.Message);
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            return (null, IdentHeld);
        }
        catch (Kaze.Resolver.RegistryUnavailableException e)
        {
            // etcd down at start is a start that fails (docs/discovery.md): no view, no registration.
            StandardError.WriteLine($"kaze: discovery:etcd:endpoints: {string.Join(",", e.Endpoints)} cannot be used: {e.Message}");
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            return (null, CommandSettings.UsageError);
        }
        catch (CorralListenException e)
        {
            StandardError.WriteLine("kaze: cannot listen: " + e.Message);
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            return (null, RunCommand.CannotListen);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            StandardError.WriteLine($"kaze: cannot start: {e.Message} ({e.GetType().Name})");
            await app.DisposeAsync().ConfigureAwait(false);
            return (null, CannotStart);
        }
    }
}
