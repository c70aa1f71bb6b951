using System.Diagnostics.CodeAnalysis;

namespace Kaze.Sidecar.Hosting;

/// <summary>
/// Whether this build of kaze has the parts that need the JIT: third-party plugins (assemblies
/// loaded at run time) and the HTTP gateway (YARP). A Native AOT build of kaze sets the switch
/// <see cref="Switch"/> off at publish (a trimming substitution), which removes those parts from the
/// executable; such a kaze hands a configuration that needs them to the JIT build installed beside
/// it (docs/cli.md, "Native AOT"). True in every JIT build.
/// </summary>
public static class JitOnlyFeatures
{
    /// <summary>The AppContext switch; Kaze.Cli's Native AOT publish sets it to false.</summary>
    public const string Switch = "Kaze.JitOnlyFeatures.IsSupported";

    /// <summary>False in a Native AOT build: a branch guarded by it is trimmed away there.</summary>
    [FeatureSwitchDefinition(Switch)]
    public static bool IsSupported => !AppContext.TryGetSwitch(Switch, out bool enabled) || enabled;
}
