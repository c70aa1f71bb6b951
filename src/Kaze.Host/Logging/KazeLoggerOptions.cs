namespace Kaze.Host.Logging;

/// <summary>Settings of a <see cref="KazeLoggerProvider"/>.</summary>
/// <remarks>
/// Defaults: up to 1,024 records wait to be sent before further ones are dropped; a message or an
/// exception longer than 32,768 characters is cut to that length. Which levels and categories are
/// sent is decided by the usual logging filters (the provider's alias is <c>Kaze</c>, e.g.
/// <c>"Logging": { "Kaze": { "LogLevel": { "Default": "Information" } } }</c>).
/// </remarks>
public sealed class KazeLoggerOptions
{
    /// <summary>
    /// Records that may wait to be sent (before the client is attached, or while the sender is
    /// behind). A record logged when the queue is full is dropped and counted
    /// (<see cref="KazeLoggerProvider.DroppedCount"/>): logging never waits. Default 1,024.
    /// </summary>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>Characters of a message, and of an exception's text, that are sent; the rest is cut and marked. Default 32,768.</summary>
    public int MaxMessageLength { get; set; } = 32 * 1024;

    /// <summary>Checks every setting and reports every problem at once.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message lists all of them.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (QueueCapacity < 1)
        {
            problems.Add($"QueueCapacity is {QueueCapacity}: must be at least 1");
        }

        if (MaxMessageLength < 64)
        {
            problems.Add($"MaxMessageLength is {MaxMessageLength}: must be at least 64");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid KazeLoggerOptions: " + string.Join("; ", problems));
        }
    }
}
