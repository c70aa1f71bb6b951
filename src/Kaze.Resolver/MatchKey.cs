using Kaze.Protocol;

namespace Kaze.Resolver;

/// <summary>A selector of <see cref="IResolver.MatchAsync"/>: the key of every match cache.</summary>
internal readonly record struct MatchKey(Ident Ident, uint Mask)
{
    /// <summary>
    /// True if no node can match: the selector's ident has a bit outside the mask, and
    /// <c>(node &amp; mask)</c> never does.
    /// </summary>
    public bool IsUnsatisfiable => (Ident.Value & ~Mask) != 0;
}
