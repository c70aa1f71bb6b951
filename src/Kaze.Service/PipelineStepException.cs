namespace Kaze.Service;

/// <summary>A middleware threw; carries the name it was added under (a plugin's name for plugin middleware).</summary>
public sealed class PipelineStepException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PipelineStepException(string step, Exception inner)
        : base($"pipeline step '{step}' failed: {inner.Message}", inner) => Step = step;

    /// <summary>The failing step's name.</summary>
    public string Step { get; }
}
