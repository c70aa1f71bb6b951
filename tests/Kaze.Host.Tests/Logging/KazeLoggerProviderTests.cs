using System.Text.Json;
using Kaze.Host.Logging;
using Kaze.Host.Testing;
using Kaze.Host.Tests.TestSupport;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Host.Tests.Logging;

/// <summary>KazeLoggerProvider over the in-memory sidecar: what it sends, and what it drops.</summary>
public sealed class KazeLoggerProviderTests : IAsyncLifetime
{
    private readonly InMemorySidecar _sidecar = new(Ident.Parse("0.0.0.7"));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _sidecar.DisposeAsync();

    [Theory]
    [InlineData(LogLevel.Trace, "Trace")]
    [InlineData(LogLevel.Debug, "Debug")]
    [InlineData(LogLevel.Information, "Information")]
    [InlineData(LogLevel.Warning, "Warning")]
    [InlineData(LogLevel.Error, "Error")]
    [InlineData(LogLevel.Critical, "Critical")]
    public async Task Log_EachLevel_SendsLogNotifyToOwnIdentWithJsonBody(LogLevel level, string levelName)
    {
        await using KazeClient client = _sidecar.CreateClient();
        using var provider = new KazeLoggerProvider(client);
        DateTimeOffset before = DateTimeOffset.UtcNow;

        provider.CreateLogger("Orders.Api").Log(level, new EventId(7, "OrderPlaced"), "order {Id} placed by \"{Who}\"", 42, "Ann");
        await provider.FlushAsync().Within("the record to be sent");

        SentPacket packet = await _sidecar.WaitForSentAsync(LogBody.IsLog).Within("the log notify");
        Assert.True(packet.IsNotify, packet.ToString());
        Assert.Equal(_sidecar.Ident, packet.Destination);
        JsonElement body = LogBody.Parse(packet);
        Assert.Equal(levelName, LogBody.Text(body, "level"));
        Assert.Equal("Orders.Api", LogBody.Text(body, "category"));
        Assert.Equal("order 42 placed by \"Ann\"", LogBody.Text(body, "message"));
        Assert.Equal(7, body.GetProperty("eventId").GetInt32());
        Assert.Equal("OrderPlaced", LogBody.Text(body, "eventName"));
        Assert.False(body.TryGetProperty("exception", out _));
        DateTimeOffset at = body.GetProperty("timestamp").GetDateTimeOffset();
        Assert.InRange(at, before, DateTimeOffset.UtcNow);
        Assert.Equal(TimeSpan.Zero, at.Offset);
        Assert.Equal(1, provider.SentCount);
        Assert.Equal(0, provider.DroppedCount);
    }

    [Fact]
    public async Task Log_WithException_SendsItsText()
    {
        await using KazeClient client = _sidecar.CreateClient();
        using var provider = new KazeLoggerProvider(client);
        Exception error = Thrown(new InvalidOperationException("the disk is full"));

        provider.CreateLogger("Orders.Store").LogError(error, "save failed");
        await provider.FlushAsync().Within("the record to be sent");

        JsonElement body = LogBody.Parse(await _sidecar.WaitForSentAsync(LogBody.IsLog).Within("the log notify"));
        string text = LogBody.Text(body, "exception");
        Assert.StartsWith("System.InvalidOperationException: the disk is full", text);
        Assert.Contains(nameof(Thrown), text);
        Assert.False(body.TryGetProperty("eventId", out _), "eventId 0 is left out");
    }

    [Fact]
    public async Task Log_QueueFull_DropsTheNewRecordsAndCountsThem()
    {
        using var provider = new KazeLoggerProvider(new KazeLoggerOptions { QueueCapacity = 4 });
        ILogger logger = provider.CreateLogger("Burst");

        for (int i = 0; i < 10; i++)
        {
            logger.LogWarning("record {Number}", i);
        }

        // Nothing is attached yet, so nothing left the queue: exactly the capacity was kept.
        Assert.Equal(6, provider.DroppedCount);
        await using KazeClient client = _sidecar.CreateClient();
        provider.Attach(client);
        await provider.FlushAsync().Within("the queued records to be sent");

        Assert.Equal(4, provider.SentCount);
        await _sidecar.WaitForSentAsync(p => LogBody.IsLog(p) && Bytes.Text(p.Body).Contains("record 3", StringComparison.Ordinal)).Within("the fourth record");
        Assert.Equal(
            ["record 0", "record 1", "record 2", "record 3"],
            LogBody.Logs(_sidecar).Select(p => LogBody.Text(LogBody.Parse(p), "message")));
    }

    [Fact]
    public async Task Log_ChannelGone_DropsAndCounts()
    {
        await using KazeClient client = _sidecar.CreateClient();
        client.Start();
        using var provider = new KazeLoggerProvider(client);
        _sidecar.Kill();
        await client.Completion.Within("the client to see the sidecar gone");

        ILogger logger = provider.CreateLogger("Late");
        logger.LogError("one");
        logger.LogError("two");
        await provider.FlushAsync().Within("the records to be dropped");

        Assert.Equal(0, provider.SentCount);
        Assert.Equal(2, provider.DroppedCount);
    }

    [Fact]
    public async Task Log_LongerThanMaxMessageLength_IsCutAndMarked()
    {
        await using KazeClient client = _sidecar.CreateClient();
        using var provider = new KazeLoggerProvider(client, new KazeLoggerOptions { MaxMessageLength = 100 });

        provider.CreateLogger("Long").LogInformation("{Text}", new string('x', 1000));
        await provider.FlushAsync().Within("the record to be sent");

        JsonElement body = LogBody.Parse(await _sidecar.WaitForSentAsync(LogBody.IsLog).Within("the log notify"));
        Assert.Equal(new string('x', 100) + "…[cut]", LogBody.Text(body, "message"));
    }

    [Fact]
    public async Task Log_TooLargeForTheChannel_IsDroppedAndCounted()
    {
        await using var small = new InMemorySidecar(maxPacketSize: 256);
        await using KazeClient client = small.CreateClient();
        using var provider = new KazeLoggerProvider(client);
        ILogger logger = provider.CreateLogger("Big");

        logger.LogInformation("{Text}", new string('x', 1000));
        logger.LogInformation("small");
        await provider.FlushAsync().Within("the records to be handled");

        Assert.Equal(1, provider.DroppedCount);
        Assert.Equal(1, provider.SentCount);
    }

    [Fact]
    public async Task Log_SentBackByASidecarWithoutForwarding_IsDiscardedWithoutALoop()
    {
        // The in-memory sidecar routes a notify for this node back to it, as a sidecar without the
        // log forwarding plugin would. The client logs through the provider too: an unhandled `log`
        // notify would be logged, sent, returned, logged… The provider's discarding handler stops that.
        var collected = new CollectingLoggerProvider();
        using var provider = new KazeLoggerProvider();
        using ILoggerFactory loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(collected).AddProvider(provider));
        await using KazeClient client = _sidecar.CreateClient(loggerFactory: loggers);
        client.AddHandler("ping", Bytes.Echo);
        provider.Attach(client);
        client.Start();

        loggers.CreateLogger("App").LogInformation("hello");
        await provider.FlushAsync().Within("the first records to be sent");
        long sent = provider.SentCount;
        // The answer to a call to itself comes after the returned records, on the same reader thread.
        await client.CallAsync(client.LocalIdent, "ping", default).AsTask().Within("a round trip after the records");
        await provider.FlushAsync().Within("anything the returned records caused");
        await client.CallAsync(client.LocalIdent, "ping", default).AsTask().Within("a second round trip");
        await provider.FlushAsync().Within("anything the returned records caused");

        Assert.Equal(sent, provider.SentCount);
        Assert.DoesNotContain(collected.Entries, e => e.Message.Contains("log", StringComparison.Ordinal) && e.Message.Contains("handler", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Dispose_NeverAttached_DropsWhatWasQueued()
    {
        var provider = new KazeLoggerProvider();
        provider.CreateLogger("Orphan").LogWarning("nobody reads this");

        provider.Dispose();

        Assert.Equal(1, provider.DroppedCount);
        Assert.False(provider.CreateLogger("Orphan").IsEnabled(LogLevel.Critical));
    }

    [Fact]
    public void Options_Invalid_ReportsEveryProblem()
    {
        var error = Assert.Throws<ArgumentException>(() => new KazeLoggerProvider(new KazeLoggerOptions { QueueCapacity = 0, MaxMessageLength = 1 }));

        Assert.Contains("QueueCapacity", error.Message);
        Assert.Contains("MaxMessageLength", error.Message);
    }

    private static Exception Thrown(Exception exception)
    {
        try
        {
            throw exception;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}
