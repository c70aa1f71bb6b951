using System.Text;
using Kaze.Protocol;
using Kaze.Service;
using Kaze.Sidecar.Logging;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Tests.Logging;

/// <summary>The log forwarding middleware: which packets it takes, and what it logs for them.</summary>
public sealed class HostLogMiddlewareTests : IDisposable
{
    private static readonly Ident Host = Ident.Parse("0.0.0.5");

    private readonly CapturedLogs _logs = new();
    private readonly ILoggerFactory _loggers;
    private readonly LogForwardingCounters _counters = new();
    private readonly HostLogMiddleware _middleware;
    private int _nextCalls;

    public HostLogMiddlewareTests()
    {
        _loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(_logs));
        _middleware = new HostLogMiddleware(_loggers, Host, _counters);
    }

    public void Dispose() => _loggers.Dispose();

    [Theory]
    [InlineData("Trace", LogLevel.Trace)]
    [InlineData("Debug", LogLevel.Debug)]
    [InlineData("Information", LogLevel.Information)]
    [InlineData("Warning", LogLevel.Warning)]
    [InlineData("Error", LogLevel.Error)]
    [InlineData("Critical", LogLevel.Critical)]
    public async Task Invoke_LogNotifyFromHost_LogsItAtItsLevelWithTheHostIdentAndStopsIt(string level, LogLevel expected)
    {
        await InvokeAsync(PacketOrigin.Host, ControlBodyTypes.Log, $$"""
            {"level":"{{level}}","category":"Orders.Api","message":"order {42} placed","eventId":7,"eventName":"Placed","timestamp":"2025-01-02T03:04:05+00:00"}
            """);

        CapturedLogs.Entry entry = Assert.Single(_logs.Entries);
        Assert.Equal("Host.Orders.Api", entry.Category);
        Assert.Equal(expected, entry.Level);
        Assert.Equal("order {42} placed", entry.Message);
        Assert.Equal(new EventId(7, "Placed"), entry.EventId);
        Assert.Equal("0.0.0.5", entry.Properties["HostIdent"]);
        Assert.Equal("Orders.Api", entry.Properties["HostCategory"]);
        Assert.Equal(new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero), entry.Properties["HostTimestamp"]);
        Assert.Null(entry.Exception);
        Assert.Equal(0, _nextCalls);
        Assert.Equal(1, _counters.Written);
    }

    [Fact]
    public async Task Invoke_RecordWithException_LogsTheHostsTextAsTheException()
    {
        const string text = "System.InvalidOperationException: the disk is full\n   at Orders.Store.Save()";

        await InvokeAsync(PacketOrigin.Host, ControlBodyTypes.Log, $$"""{"level":"Error","message":"save failed","exception":"{{text.Replace("\n", "\\n", StringComparison.Ordinal)}}"}""");

        CapturedLogs.Entry entry = Assert.Single(_logs.Entries);
        Assert.Equal("Host", entry.Category);
        Assert.NotNull(entry.Exception);
        Assert.Equal(text, entry.Exception.ToString());
        Assert.Equal("System.InvalidOperationException: the disk is full", entry.Exception.Message);
    }

    [Fact]
    public async Task Invoke_LogNotifyFromTheNetwork_IsRoutedNotLogged()
    {
        await InvokeAsync(PacketOrigin.Network, ControlBodyTypes.Log, """{"message":"from a peer"}""");

        Assert.Equal(1, _nextCalls);
        Assert.Empty(_logs.Entries);
    }

    [Fact]
    public async Task Invoke_LogRequestFromHost_IsRoutedNotLogged()
    {
        Hdr request = Hdr.CreateRequest(Host, ControlBodyTypes.Log, 1, 1000);

        await InvokeAsync(PacketOrigin.Host, request, """{"message":"a request"}""");

        Assert.Equal(1, _nextCalls);
        Assert.Empty(_logs.Entries);
    }

    [Fact]
    public async Task Invoke_OtherBodyType_PassesOn()
    {
        await InvokeAsync(PacketOrigin.Host, "echo", """{"message":"not a record"}""");

        Assert.Equal(1, _nextCalls);
        Assert.Empty(_logs.Entries);
    }

    [Fact]
    public async Task Invoke_MalformedRecords_AreDroppedCountedAndReportedOnceAsAWarning()
    {
        await InvokeAsync(PacketOrigin.Host, ControlBodyTypes.Log, "not json");
        await InvokeAsync(PacketOrigin.Host, ControlBodyTypes.Log, """{"level":"info"}""");

        Assert.Equal(0, _nextCalls);
        Assert.Equal(2, _counters.Malformed);
        Assert.Equal(0, _counters.Written);
        Assert.Collection(
            _logs.Entries,
            first => Assert.Equal((LogLevel.Warning, 910, "Kaze.Sidecar.Logging"), (first.Level, first.EventId.Id, first.Category)),
            second => Assert.Equal((LogLevel.Debug, 911), (second.Level, second.EventId.Id)));
        Assert.Contains("no \"message\"", _logs.Entries[1].Message, StringComparison.Ordinal);
    }

    private Task InvokeAsync(PacketOrigin origin, string bodyType, string body) =>
        InvokeAsync(origin, Hdr.CreateNotify(Host, bodyType), body);

    private async Task InvokeAsync(PacketOrigin origin, Hdr header, string body)
    {
        header.SrcIdent = Host.Value;
        using var context = new PacketContext(Packet.Create(header, Encoding.UTF8.GetBytes(body)), origin, Host, new NoReplier());
        await _middleware.InvokeAsync(context, _ =>
        {
            _nextCalls++;
            return ValueTask.CompletedTask;
        });
    }

    private sealed class NoReplier : IPacketReplier
    {
        public bool TrySend(Packet packet)
        {
            packet.Dispose();
            return false;
        }
    }
}
