namespace Kaze.Sidecar.Health;

/// <summary>The verdict of one <see cref="IReadinessContributor"/>: ready or not, and what was seen, in a few words (shown in <c>/readyz</c>).</summary>
/// <param name="IsReady">True if the condition holds.</param>
/// <param name="Detail">What was seen, e.g. "listening on 127.0.0.1:6081" or "no host has opened the channel yet".</param>
public readonly record struct ReadinessCheck(bool IsReady, string Detail)
{
    /// <summary>A condition that holds.</summary>
    public static ReadinessCheck Ready(string detail) => new(true, detail);

    /// <summary>A condition that does not hold (yet).</summary>
    public static ReadinessCheck NotReady(string detail) => new(false, detail);
}
