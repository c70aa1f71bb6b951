namespace Kaze.Sidecar.Health;

/// <summary>
/// One condition the sidecar must meet before it is ready (<c>/readyz</c> answers 200, and
/// <c>kaze sidecar</c> tells systemd READY=1). The built-ins are the host, the mesh listener and
/// the sidecar's own start; a part that registers this node somewhere (discovery) adds its own by
/// registering an implementation in the services (<c>services.AddSingleton&lt;IReadinessContributor&gt;(…)</c>).
/// </summary>
/// <remarks>
/// <see cref="Check"/> is called for every <c>/readyz</c> request and while <c>kaze sidecar</c>
/// waits to notify systemd, from any thread: it must be cheap (read a field; no I/O beyond a
/// local connect with a short timeout), never throw, and say in a few words what it found.
/// </remarks>
public interface IReadinessContributor
{
    /// <summary>The check's name in the <c>/readyz</c> body, e.g. "registry"; letters, digits and '_' only.</summary>
    string Name { get; }

    /// <summary>Whether this condition holds now, and what was seen.</summary>
    ReadinessCheck Check();
}
