using System.Diagnostics.Metrics;
using Kaze.Sidecar.Metrics;

namespace Kaze.Sidecar.Tests.Metrics;

/// <summary>The exact text of each kind of metric, produced through the real SDK path.</summary>
public sealed class PrometheusTextTests : IDisposable
{
    private readonly ScrapeHarness _harness = new();

    private Meter Meter => _harness.Meter;

    public void Dispose() => _harness.Dispose();

    [Fact]
    public void Counter_WithLabel_IsTotalWithHelpAndType()
    {
        Counter<long> counter = Meter.CreateCounter<long>("kaze_test_packets", description: "Packets moved.");
        counter.Add(3, new KeyValuePair<string, object?>("direction", "in"));
        counter.Add(2, new KeyValuePair<string, object?>("direction", "in"));

        Assert.Equal(
            "# HELP kaze_test_packets_total Packets moved.\n" +
            "# TYPE kaze_test_packets_total counter\n" +
            "kaze_test_packets_total{direction=\"in\"} 5\n",
            _harness.Scrape());
    }

    [Fact]
    public void Counter_SeveralLabelValues_OneSamplePerValue()
    {
        Counter<long> counter = Meter.CreateCounter<long>("kaze_test_dropped", description: "Drops.");
        counter.Add(1, new KeyValuePair<string, object?>("reason", "a"));
        counter.Add(4, new KeyValuePair<string, object?>("reason", "b"));

        Assert.Equal(
            "# HELP kaze_test_dropped_total Drops.\n" +
            "# TYPE kaze_test_dropped_total counter\n" +
            "kaze_test_dropped_total{reason=\"a\"} 1\n" +
            "kaze_test_dropped_total{reason=\"b\"} 4\n",
            _harness.Scrape());
    }

    [Fact]
    public void Counter_TwoLabels_AreRenderedInTheSdksKeyOrder()
    {
        Counter<long> counter = Meter.CreateCounter<long>("kaze_test_limited", description: "Refused.");
        counter.Add(1, new KeyValuePair<string, object?>("rule", "total"), new KeyValuePair<string, object?>("reason", "answered"));

        Assert.Equal(
            "# HELP kaze_test_limited_total Refused.\n" +
            "# TYPE kaze_test_limited_total counter\n" +
            "kaze_test_limited_total{reason=\"answered\",rule=\"total\"} 1\n",
            _harness.Scrape());
    }

    [Fact]
    public void Counter_NameAlreadyEndsInTotal_IsNotDoubled()
    {
        Meter.CreateCounter<long>("kaze_test_requests_total", description: "Requests.").Add(7);

        Assert.Equal(
            "# HELP kaze_test_requests_total Requests.\n" +
            "# TYPE kaze_test_requests_total counter\n" +
            "kaze_test_requests_total 7\n",
            _harness.Scrape());
    }

    [Fact]
    public void Counter_OfDoubles_RendersShortestRoundTrip()
    {
        Counter<double> counter = Meter.CreateCounter<double>("kaze_test_seconds", description: "Time spent.");
        counter.Add(1.5);
        counter.Add(0.25);

        Assert.Equal(
            "# HELP kaze_test_seconds_total Time spent.\n" +
            "# TYPE kaze_test_seconds_total counter\n" +
            "kaze_test_seconds_total 1.75\n",
            _harness.Scrape());
    }

    [Fact]
    public void ObservableCounter_IsACounter()
    {
        Meter.CreateObservableCounter("kaze_test_frames", () => 12L, description: "Frames.");

        Assert.Equal(
            "# HELP kaze_test_frames_total Frames.\n" +
            "# TYPE kaze_test_frames_total counter\n" +
            "kaze_test_frames_total 12\n",
            _harness.Scrape());
    }

    [Fact]
    public void ObservableGauge_WithLabels_IsAGauge()
    {
        Meter.CreateObservableGauge(
            "kaze_test_fill_bytes",
            () => new[]
            {
                new Measurement<long>(42, new KeyValuePair<string, object?>("ring", "sidecar_to_host")),
                new Measurement<long>(0, new KeyValuePair<string, object?>("ring", "host_to_sidecar")),
            },
            description: "Bytes waiting.");

        Assert.Equal(
            "# HELP kaze_test_fill_bytes Bytes waiting.\n" +
            "# TYPE kaze_test_fill_bytes gauge\n" +
            "kaze_test_fill_bytes{ring=\"sidecar_to_host\"} 42\n" +
            "kaze_test_fill_bytes{ring=\"host_to_sidecar\"} 0\n",
            _harness.Scrape());
    }

    [Fact]
    public void DoubleGauge_Infinity_IsPlusInf()
    {
        Meter.CreateObservableGauge("kaze_test_ratio", () => new[] { new Measurement<double>(0.125), new Measurement<double>(double.PositiveInfinity, new KeyValuePair<string, object?>("k", "inf")) }, description: "A ratio.");

        Assert.Equal(
            "# HELP kaze_test_ratio A ratio.\n" +
            "# TYPE kaze_test_ratio gauge\n" +
            "kaze_test_ratio 0.125\n" +
            "kaze_test_ratio{k=\"inf\"} +Inf\n",
            _harness.Scrape());
    }

    [Fact]
    public void UpDownCounter_IsAGauge()
    {
        UpDownCounter<long> counter = Meter.CreateUpDownCounter<long>("kaze_test_open", description: "Open now.");
        counter.Add(2);
        counter.Add(-5);

        Assert.Equal(
            "# HELP kaze_test_open Open now.\n" +
            "# TYPE kaze_test_open gauge\n" +
            "kaze_test_open -3\n",
            _harness.Scrape());
    }

    [Fact]
    public void Histogram_BucketsAreCumulativeWithInfSumAndCount()
    {
        Histogram<double> histogram = Meter.CreateHistogram(
            "kaze_test_duration_seconds",
            unit: "s",
            description: "Durations.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.25, 1, 8] });
        foreach (double value in new[] { 0.0625, 0.5, 0.5, 4, 32 })
        {
            histogram.Record(value, new KeyValuePair<string, object?>("code", "ok"));
        }

        Assert.Equal(
            "# HELP kaze_test_duration_seconds Durations.\n" +
            "# TYPE kaze_test_duration_seconds histogram\n" +
            "kaze_test_duration_seconds_bucket{code=\"ok\",le=\"0.25\"} 1\n" +
            "kaze_test_duration_seconds_bucket{code=\"ok\",le=\"1\"} 3\n" +
            "kaze_test_duration_seconds_bucket{code=\"ok\",le=\"8\"} 4\n" +
            "kaze_test_duration_seconds_bucket{code=\"ok\",le=\"+Inf\"} 5\n" +
            "kaze_test_duration_seconds_sum{code=\"ok\"} 37.0625\n" +
            "kaze_test_duration_seconds_count{code=\"ok\"} 5\n",
            _harness.Scrape());
    }

    [Fact]
    public void Histogram_WithoutLabels_HasOnlyLeInItsBuckets()
    {
        Histogram<long> histogram = Meter.CreateHistogram(
            "kaze_test_size_bytes",
            unit: "By",
            description: "Sizes.",
            tags: null,
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [10, 100] });
        histogram.Record(5);
        histogram.Record(1000);

        Assert.Equal(
            "# HELP kaze_test_size_bytes Sizes.\n" +
            "# TYPE kaze_test_size_bytes histogram\n" +
            "kaze_test_size_bytes_bucket{le=\"10\"} 1\n" +
            "kaze_test_size_bytes_bucket{le=\"100\"} 1\n" +
            "kaze_test_size_bytes_bucket{le=\"+Inf\"} 2\n" +
            "kaze_test_size_bytes_sum 1005\n" +
            "kaze_test_size_bytes_count 2\n",
            _harness.Scrape());
    }

    [Fact]
    public void LabelValue_QuotesBackslashesAndNewlines_AreEscaped()
    {
        Meter.CreateCounter<long>("kaze_test_odd", description: "Odd labels.")
            .Add(1, new KeyValuePair<string, object?>("path", "a \"quoted\" \\dir\\ and\nline two"));

        Assert.Equal(
            "# HELP kaze_test_odd_total Odd labels.\n" +
            "# TYPE kaze_test_odd_total counter\n" +
            "kaze_test_odd_total{path=\"a \\\"quoted\\\" \\\\dir\\\\ and\\nline two\"} 1\n",
            _harness.Scrape());
    }

    [Fact]
    public void Help_BackslashAndNewline_AreEscaped_QuotesAreNot()
    {
        Meter.CreateCounter<long>("kaze_test_help", description: "Line one\nsays \"C:\\kaze\"").Add(1);

        Assert.Equal(
            "# HELP kaze_test_help_total Line one\\nsays \"C:\\\\kaze\"\n" +
            "# TYPE kaze_test_help_total counter\n" +
            "kaze_test_help_total 1\n",
            _harness.Scrape());
    }

    [Fact]
    public void Names_OtelStyle_AreSanitised()
    {
        Meter.CreateCounter<long>("kaze.weird-name/x", description: "Dotted.")
            .Add(1, new KeyValuePair<string, object?>("http.method", "GET"), new KeyValuePair<string, object?>("9lives", "yes"));

        Assert.Equal(
            "# HELP kaze_weird_name_x_total Dotted.\n" +
            "# TYPE kaze_weird_name_x_total counter\n" +
            "kaze_weird_name_x_total{key_9lives=\"yes\",http_method=\"GET\"} 1\n",
            _harness.Scrape());
    }

    [Fact]
    public void TwoInstruments_SameSanitisedName_OnlyTheFirstIsRendered()
    {
        Meter.CreateCounter<long>("kaze.dup", description: "First.").Add(1);
        Meter.CreateCounter<long>("kaze_dup", description: "Second.").Add(2);

        Assert.Equal(
            "# HELP kaze_dup_total First.\n" +
            "# TYPE kaze_dup_total counter\n" +
            "kaze_dup_total 1\n",
            _harness.Scrape());
    }

    [Fact]
    public void Instrument_WithoutDescription_HasNoHelpLine()
    {
        Meter.CreateCounter<long>("kaze_test_bare").Add(1);

        Assert.Equal("# TYPE kaze_test_bare_total counter\nkaze_test_bare_total 1\n", _harness.Scrape());
    }

    [Fact]
    public void Instrument_NeverRecorded_IsNotRendered()
    {
        Meter.CreateCounter<long>("kaze_test_unused", description: "Nothing yet.");

        Assert.Equal("", _harness.Scrape());
    }

    [Fact]
    public void Scrape_Twice_CountersAreCumulative()
    {
        Counter<long> counter = Meter.CreateCounter<long>("kaze_test_cumulative", description: "Grows.");
        counter.Add(2);
        _harness.Scrape();
        counter.Add(3);

        Assert.EndsWith("kaze_test_cumulative_total 5\n", _harness.Scrape(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("kaze_ok", "kaze_ok")]
    [InlineData("kaze.a-b/c", "kaze_a_b_c")]
    [InlineData("kaze..x", "kaze_x")]
    [InlineData("9lives", "_9lives")]
    [InlineData("ns:sub_name", "ns:sub_name")]
    [InlineData("é", "_")]
    public void SanitizeMetricName_Examples(string name, string expected) => Assert.Equal(expected, PrometheusText.SanitizeMetricName(name));

    [Theory]
    [InlineData("reason", "reason")]
    [InlineData("http.method", "http_method")]
    [InlineData("ns:sub", "ns_sub")]
    [InlineData("9lives", "key_9lives")]
    public void SanitizeLabelName_Examples(string name, string expected) => Assert.Equal(expected, PrometheusText.SanitizeLabelName(name));

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(0.1, "0.1")]
    [InlineData(1e-05, "1E-05")]
    [InlineData(123456789.5, "123456789.5")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(double.NaN, "NaN")]
    public void FormatDouble_Examples(double value, string expected) => Assert.Equal(expected, PrometheusText.FormatDouble(value));
}
