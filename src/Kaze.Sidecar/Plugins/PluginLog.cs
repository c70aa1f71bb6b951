using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Plugins;

/// <summary>Log events of third-party plugins (event ids 660–669), category "Kaze.Plugins".</summary>
internal static partial class PluginLog
{
    public const string Category = "Kaze.Plugins";

    [LoggerMessage(EventId = 660, Level = LogLevel.Information, Message = "Plugin {Name}: {Type} from {Assembly}; pipeline: {Middleware}")]
    public static partial void Added(ILogger logger, string name, string type, string assembly, string middleware);
}
