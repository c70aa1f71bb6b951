using System.Text;
using Kaze.Sidecar.Logging;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Tests.Logging;

/// <summary>The body of a `log` notify, as docs/host-protocol.md defines it.</summary>
public sealed class HostLogRecordTests
{
    [Fact]
    public void TryParse_EveryField_ReadsThemAll()
    {
        HostLogRecord record = Parse("""
            {"level":"Warning","category":"Orders.Api","message":"order 42 is late","exception":"System.TimeoutException: slow\n   at Orders.Api.Place()","eventId":7,"eventName":"Late","timestamp":"2025-01-02T03:04:05.678+00:00"}
            """);

        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Equal("Orders.Api", record.Category);
        Assert.Equal("order 42 is late", record.Message);
        Assert.Equal("System.TimeoutException: slow\n   at Orders.Api.Place()", record.Exception);
        Assert.Equal(7, record.EventId);
        Assert.Equal("Late", record.EventName);
        Assert.Equal(new DateTimeOffset(2025, 1, 2, 3, 4, 5, 678, TimeSpan.Zero), record.Timestamp);
    }

    [Fact]
    public void TryParse_OnlyMessage_DefaultsTheRest()
    {
        HostLogRecord record = Parse("""{"message":"hi"}""");

        Assert.Equal(LogLevel.Information, record.Level);
        Assert.Equal("", record.Category);
        Assert.Null(record.Exception);
        Assert.Equal(0, record.EventId);
        Assert.Null(record.Timestamp);
    }

    [Theory]
    [InlineData("Trace", LogLevel.Trace)]
    [InlineData("verbose", LogLevel.Trace)]
    [InlineData("DEBUG", LogLevel.Debug)]
    [InlineData("info", LogLevel.Information)]
    [InlineData("warn", LogLevel.Warning)]
    [InlineData("error", LogLevel.Error)]
    [InlineData("fatal", LogLevel.Critical)]
    [InlineData("Critical", LogLevel.Critical)]
    [InlineData("loud", LogLevel.Information)]
    public void TryParse_LevelNames_AnyCaseAndShortForms(string name, LogLevel expected) =>
        Assert.Equal(expected, Parse($$"""{"level":"{{name}}","message":"m"}""").Level);

    [Fact]
    public void TryParse_UnknownFieldsAndNulls_AreIgnored()
    {
        HostLogRecord record = Parse("""{"message":"m","traceId":"abc","scopes":[{"a":1}],"exception":null,"category":null,"eventId":null}""");

        Assert.Equal("m", record.Message);
        Assert.Null(record.Exception);
    }

    [Theory]
    [InlineData("", "not JSON")]
    [InlineData("[1]", "not a JSON object")]
    [InlineData("""{"level":"info"}""", "no \"message\"")]
    [InlineData("""{"message":5}""", "\"message\" is not a string")]
    [InlineData("""{"message":"m","eventId":"7"}""", "\"eventId\" is not a 32-bit integer")]
    [InlineData("""{"message":"m","timestamp":"yesterday"}""", "\"timestamp\" is not an ISO 8601")]
    [InlineData("""{"message":"m"}{"message":"n"}""", "not JSON")]
    [InlineData("""{"message":"m" """, "not JSON")]
    public void TryParse_NotARecord_SaysWhy(string body, string reason)
    {
        Assert.False(HostLogRecord.TryParse(Encoding.UTF8.GetBytes(body), out HostLogRecord? record, out string error));

        Assert.Null(record);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    private static HostLogRecord Parse(string json)
    {
        Assert.True(HostLogRecord.TryParse(Encoding.UTF8.GetBytes(json), out HostLogRecord? record, out string error), error);
        return record!;
    }
}
