using System.Globalization;
using System.Runtime.CompilerServices;
using Kaze.Cli.Logging;
using Kaze.Sidecar.Logging;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Core;
using Serilog.Debugging;
using Serilog.Events;
using Serilog.Extensions.Logging;
using Serilog.Formatting;
using Serilog.Formatting.Display;

namespace Kaze.Cli;

/// <summary>
/// kaze's own log lines: Serilog under Microsoft.Extensions.Logging, always on stderr (stdout
/// belongs to the host program), and in a rolling file when "log:file" is set. Text or JSON lines
/// ("log:format"); levels per area ("log:level", "log:levels"). See <see cref="LogSettings"/>.
/// </summary>
/// <remarks>
/// The text format on stderr: <c>[kaze 12:34:56.789 WRN Corral] message</c>, then the exception's
/// lines; a record forwarded from the host shows <c>host &lt;ident&gt; &lt;its category's last segment&gt;</c>
/// as its area. The file's text lines carry the date and offset too. JSON lines are CLEF
/// (<see cref="JsonLinesFormatter"/>), on stderr and in the file alike.
/// </remarks>
internal static class KazeLogging
{
    /// <summary>A text line on stderr.</summary>
    public const string ConsoleTemplate = "[kaze {Timestamp:HH:mm:ss.fff} {Level:u3} {Area}] {Message:l}{NewLine}{Exception}";

    /// <summary>A text line in the log file.</summary>
    public const string FileTemplate = "{Timestamp:yyyy-MM-dd HH:mm:ss.fff zzz} {Level:u3} {Area}: {Message:l}{NewLine}{Exception}";

    /// <summary>kaze's loggers as <paramref name="settings"/> say. Disposing the factory flushes and closes the file.</summary>
    /// <param name="settings">Levels, format, file.</param>
    /// <param name="standardError">Where the stderr lines go; null for fd 2 (<see cref="StandardError"/>). Tests pass their own.</param>
    public static ILoggerFactory Create(LogSettings settings, TextWriter? standardError = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        // Levels are decided per area by AreaLevelLoggerProvider; nothing is filtered before it.
        // The Serilog pipeline is made when the first record passes its level, unless a log file
        // is set: then at once, so that a file that cannot be opened is reported at the start.
        // Not LoggerFactory.Create, which builds a service container, nor LoggerFactory, whose
        // filter rules kaze does not use: both cost `kaze run` start-up time (see KazeLoggerFactory).
        return new KazeLoggerFactory(settings.File is null
            ? new AreaLevelLoggerProvider(() => CreateSinks(settings, standardError), settings)
            : new AreaLevelLoggerProvider(CreateSinks(settings, standardError), settings));
    }

    private static SerilogLoggerProvider CreateSinks(LogSettings settings, TextWriter? standardError)
    {
        if (standardError is null)
        {
            // Serilog's own failures (a log file that cannot be opened) would otherwise go nowhere.
            SelfLog.Enable(message => StandardError.WriteLine("kaze: logging: " + message.TrimEnd()));
        }

        Logger logger = Configure(settings, standardError ?? StandardError.Writer).CreateLogger();
        return new SerilogLoggerProvider(logger, dispose: true);
    }

    /// <summary>The Serilog pipeline: every event it gets is written (levels are applied before it).</summary>
    internal static LoggerConfiguration Configure(LogSettings settings, TextWriter standardError)
    {
        bool json = settings.Format == LogFormat.Json;
        var configuration = new LoggerConfiguration().MinimumLevel.Verbose();
        if (!json)
        {
            configuration.Enrich.With(new AreaEnricher());
        }

        configuration.WriteTo.Sink(new StandardErrorSink(Formatter(json, ConsoleTemplate), standardError));
        if (settings.File is not null)
        {
            AddFile(configuration, settings, json);
        }

        return configuration;
    }

    // Its own method, never inlined: without a log file, Serilog.Sinks.File is not even loaded.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AddFile(LoggerConfiguration configuration, LogSettings settings, bool json) =>
        configuration.WriteTo.File(
            Formatter(json, FileTemplate),
            settings.File!,
            fileSizeLimitBytes: settings.FileSizeLimit,
            rollOnFileSizeLimit: true,
            rollingInterval: ToRollingInterval(settings.RollingInterval),
            retainedFileCountLimit: settings.RetainedFiles);

    private static ITextFormatter Formatter(bool json, string template) =>
        json ? new JsonLinesFormatter() : new MessageTemplateTextFormatter(template, CultureInfo.InvariantCulture);

    private static RollingInterval ToRollingInterval(LogRollingInterval interval) => interval switch
    {
        LogRollingInterval.Infinite => RollingInterval.Infinite,
        LogRollingInterval.Year => RollingInterval.Year,
        LogRollingInterval.Month => RollingInterval.Month,
        LogRollingInterval.Day => RollingInterval.Day,
        LogRollingInterval.Hour => RollingInterval.Hour,
        _ => RollingInterval.Minute,
    };
}

/// <summary>Hands the Generic Host's loggers to kaze's own factory, so every area logs through the same sinks.</summary>
internal sealed class ForwardingLoggerProvider(ILoggerFactory factory) : ILoggerProvider
{
    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => factory.CreateLogger(categoryName);

    public void Dispose()
    {
    }
}

/// <summary>Log lines on fd 2 (see <see cref="StandardError"/> for why not System.Console), one write per line.</summary>
internal sealed class StandardErrorSink(ITextFormatter formatter, TextWriter output) : ILogEventSink
{
    public StandardErrorSink(ITextFormatter formatter)
        : this(formatter, StandardError.Writer)
    {
    }

    public void Emit(LogEvent logEvent)
    {
        var line = new StringWriter(CultureInfo.InvariantCulture);
        formatter.Format(logEvent, line);
        output.Write(line.ToString());
    }
}
