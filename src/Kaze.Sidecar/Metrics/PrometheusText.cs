using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Kaze.Sidecar.Metrics;

/// <summary>
/// Renders OpenTelemetry metric points in the Prometheus text exposition format, version 0.0.4
/// (the format every Prometheus scrapes; the Prometheus exporter packages are not used).
/// </summary>
/// <remarks>
/// <para>
/// Per metric: <c># HELP</c> (when the instrument has a description) and <c># TYPE</c>, then one
/// sample per point. Monotonic sums are counters named with <c>_total</c> (added unless the name
/// has it); non-monotonic sums and gauges are gauges; explicit-bucket histograms give cumulative
/// <c>_bucket{le="…"}</c> lines ending with <c>le="+Inf"</c>, then <c>_sum</c> and <c>_count</c>.
/// Exponential histograms are not rendered (kaze defines none). Units are not appended: kaze's
/// instrument names already end with their unit (<c>_seconds</c>, <c>_bytes</c>).
/// </para>
/// <para>
/// Names follow the OpenTelemetry-to-Prometheus rules: a character outside <c>[a-zA-Z0-9_:]</c>
/// (labels: <c>[a-zA-Z0-9_]</c>) becomes <c>_</c>, runs of <c>_</c> collapse to one, a leading
/// digit gets a <c>_</c> prefix (labels: <c>key_</c>). Two instruments whose names sanitise to
/// the same family: the first is rendered, the second skipped (two TYPE lines for one name would
/// make the whole scrape invalid). Label values escape backslash, double quote and newline; HELP
/// text escapes backslash and newline. No timestamps: Prometheus stamps samples with the scrape time.
/// </para>
/// </remarks>
internal static class PrometheusText
{
    /// <summary>The Content-Type of a scrape's answer.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>
    /// Appends the metric family of <paramref name="metric"/>. <paramref name="families"/> holds
    /// the family names already written in this scrape; a duplicate is skipped.
    /// </summary>
    public static void AppendMetric(StringBuilder text, Metric metric, HashSet<string> families)
    {
        MetricType type = metric.MetricType;
        string name = SanitizeMetricName(metric.Name);
        string kind;
        switch (type)
        {
            case MetricType.LongSum:
            case MetricType.DoubleSum:
                kind = "counter";
                if (!name.EndsWith("_total", StringComparison.Ordinal))
                {
                    name += "_total";
                }

                break;
            case MetricType.LongGauge:
            case MetricType.DoubleGauge:
            case MetricType.LongSumNonMonotonic:
            case MetricType.DoubleSumNonMonotonic:
                kind = "gauge";
                break;
            case MetricType.Histogram:
                kind = "histogram";
                break;
            default:
                return;
        }

        bool headerWritten = false;
        foreach (ref readonly MetricPoint point in metric.GetMetricPoints())
        {
            if (!headerWritten)
            {
                if (!families.Add(name))
                {
                    return;
                }

                if (!string.IsNullOrEmpty(metric.Description))
                {
                    text.Append("# HELP ").Append(name).Append(' ');
                    AppendEscapedHelp(text, metric.Description);
                    text.Append('\n');
                }

                text.Append("# TYPE ").Append(name).Append(' ').Append(kind).Append('\n');
                headerWritten = true;
            }

            string labels = FormatLabels(point.Tags);
            switch (type)
            {
                case MetricType.LongSum:
                case MetricType.LongSumNonMonotonic:
                    AppendSample(text, name, "", labels).Append(point.GetSumLong().ToString(CultureInfo.InvariantCulture)).Append('\n');
                    break;
                case MetricType.DoubleSum:
                case MetricType.DoubleSumNonMonotonic:
                    AppendDouble(AppendSample(text, name, "", labels), point.GetSumDouble()).Append('\n');
                    break;
                case MetricType.LongGauge:
                    AppendSample(text, name, "", labels).Append(point.GetGaugeLastValueLong().ToString(CultureInfo.InvariantCulture)).Append('\n');
                    break;
                case MetricType.DoubleGauge:
                    AppendDouble(AppendSample(text, name, "", labels), point.GetGaugeLastValueDouble()).Append('\n');
                    break;
                case MetricType.Histogram:
                    AppendHistogram(text, name, labels, in point);
                    break;
            }
        }
    }

    /// <summary>A metric name Prometheus accepts: <c>[a-zA-Z_:][a-zA-Z0-9_:]*</c>.</summary>
    public static string SanitizeMetricName(string name) => Sanitize(name, allowColon: true, digitPrefix: "_");

    /// <summary>A label name Prometheus accepts: <c>[a-zA-Z_][a-zA-Z0-9_]*</c>.</summary>
    public static string SanitizeLabelName(string name) => Sanitize(name, allowColon: false, digitPrefix: "key_");

    /// <summary>Appends a label value between its quotes: backslash, double quote and newline escaped.</summary>
    public static StringBuilder AppendEscapedLabelValue(StringBuilder text, string value)
    {
        foreach (char c in value)
        {
            switch (c)
            {
                case '\\':
                    text.Append("\\\\");
                    break;
                case '"':
                    text.Append("\\\"");
                    break;
                case '\n':
                    text.Append("\\n");
                    break;
                default:
                    text.Append(c);
                    break;
            }
        }

        return text;
    }

    /// <summary>A sample value or bucket bound: shortest round-trip form, <c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>.</summary>
    public static string FormatDouble(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static void AppendHistogram(StringBuilder text, string name, string labels, in MetricPoint point)
    {
        long cumulative = 0;
        bool infWritten = false;
        foreach (HistogramBucket bucket in point.GetHistogramBuckets())
        {
            // The SDK gives each bucket's own count; Prometheus buckets count everything up to le.
            cumulative += bucket.BucketCount;
            double bound = bucket.ExplicitBound;
            infWritten |= double.IsPositiveInfinity(bound);
            AppendBucket(text, name, labels, FormatDouble(bound), cumulative);
        }

        long count = point.GetHistogramCount();
        if (!infWritten)
        {
            AppendBucket(text, name, labels, "+Inf", count);
        }

        AppendDouble(AppendSample(text, name, "_sum", labels), point.GetHistogramSum()).Append('\n');
        AppendSample(text, name, "_count", labels).Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private static void AppendBucket(StringBuilder text, string name, string labels, string le, long cumulative)
    {
        text.Append(name).Append("_bucket{");
        if (labels.Length > 0)
        {
            text.Append(labels).Append(',');
        }

        text.Append("le=\"").Append(le).Append("\"} ").Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private static StringBuilder AppendSample(StringBuilder text, string name, string suffix, string labels)
    {
        text.Append(name).Append(suffix);
        if (labels.Length > 0)
        {
            text.Append('{').Append(labels).Append('}');
        }

        return text.Append(' ');
    }

    private static StringBuilder AppendDouble(StringBuilder text, double value) => text.Append(FormatDouble(value));

    /// <summary><c>a="x",b="y"</c> (no braces), or "" for none; a label whose sanitised name repeats an earlier one is left out.</summary>
    private static string FormatLabels(ReadOnlyTagCollection tags)
    {
        if (tags.Count == 0)
        {
            return "";
        }

        var text = new StringBuilder();
        List<string>? names = null;
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            string label = SanitizeLabelName(tag.Key);
            names ??= new List<string>(tags.Count);
            if (names.Contains(label))
            {
                continue;
            }

            names.Add(label);
            if (text.Length > 0)
            {
                text.Append(',');
            }

            text.Append(label).Append("=\"");
            AppendEscapedLabelValue(text, Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "");
            text.Append('"');
        }

        return text.ToString();
    }

    private static void AppendEscapedHelp(StringBuilder text, string help)
    {
        foreach (char c in help)
        {
            switch (c)
            {
                case '\\':
                    text.Append("\\\\");
                    break;
                case '\n':
                    text.Append("\\n");
                    break;
                default:
                    text.Append(c);
                    break;
            }
        }
    }

    private static string Sanitize(string name, bool allowColon, string digitPrefix)
    {
        var text = new StringBuilder(name.Length + digitPrefix.Length);
        foreach (char c in name)
        {
            bool valid = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' || (allowColon && c == ':');
            char next = valid ? c : '_';
            if (next == '_' && text.Length > 0 && text[^1] == '_')
            {
                continue;
            }

            text.Append(next);
        }

        if (text.Length == 0)
        {
            return "_";
        }

        if (text[0] is >= '0' and <= '9')
        {
            text.Insert(0, digitPrefix);
        }

        return text.ToString();
    }
}
