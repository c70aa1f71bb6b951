using System.Reflection;
using System.Runtime.Loader;
using Kaze.Plugin;
using Kaze.Sidecar.Configuration;
using Kaze.Sidecar.Hosting;
using Kaze.Sidecar.Plugins;
using Kaze.Sidecar.Tests.RateLimiting;
using Kaze.Sidecar.Tests.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Kaze.Sidecar.Tests.Plugins;

public sealed class PluginLoaderTests
{
    [Fact]
    public void Load_NoPluginsSection_LoadsNothing() =>
        Assert.Empty(PluginLoader.Load(LimiterHarness.Configuration("""{ "ident": "0.0.0.1" }""")));

    [Fact]
    public void Load_HelloExample_LoadsItIntoAContextOfItsOwnThatSharesTheContract()
    {
        IKazePlugin plugin = Assert.Single(PluginLoader.Load(LimiterHarness.Configuration(PluginPaths.Config("greeter", PluginPaths.Hello))));

        Assert.Equal("greeter", plugin.Name);
        Type type = ((LoadedPlugin)plugin).Plugin.GetType();
        Assert.Equal("Kaze.Plugin.Hello.HelloPlugin", type.FullName);
        Assert.Equal("kaze-plugin:greeter", AssemblyLoadContext.GetLoadContext(type.Assembly)!.Name);
        Assert.DoesNotContain(AssemblyLoadContext.Default.Assemblies, a => a.GetName().Name == "Kaze.Plugin.Hello");
        Assert.Contains(typeof(IKazePlugin), type.GetInterfaces());
        // Its dependencies from the contract are the sidecar's own.
        Assembly[] used = AssemblyLoadContext.GetLoadContext(type.Assembly)!.Assemblies.ToArray();
        Assert.Equal([type.Assembly], used);
    }

    [Fact]
    public void Load_MissingAssembly_StopsNamingThePluginAndThePath()
    {
        PluginException e = LoadFails(PluginPaths.Config("hello", "/nonexistent/Kaze.Plugin.Hello.dll"));

        Assert.Equal("hello", e.Plugin);
        Assert.Equal("plugin 'hello' failed while loading its assembly: '/nonexistent/Kaze.Plugin.Hello.dll' does not exist (plugins:hello:assembly)", e.Message);
    }

    [Theory]
    [InlineData("nodes")]
    [InlineData("Log")]
    [InlineData("plugins")]
    [InlineData("metrics")]
    public void Load_PluginNamedLikeOneOfKazesSections_IsRefusedBeforeLoading(string name)
    {
        PluginException e = LoadFails(PluginPaths.Config(name, PluginPaths.Hello));

        Assert.Equal(name, e.Plugin);
        Assert.Contains($"'{name}' is the name of one of kaze's own settings sections", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NoAssemblyGiven_StopsNamingThePluginAndTheKey()
    {
        PluginException e = LoadFails(PluginPaths.Config("hello", assembly: null, extra: "\"greeting\": \"hi\""));

        Assert.Equal("hello", e.Plugin);
        Assert.Contains("plugins:hello:assembly is missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_FileThatIsNotAnAssembly_StopsNamingThePlugin()
    {
        using var directory = new TempDirectory();
        string path = directory.WriteFile("Fake.dll", "not a PE file", TempDirectory.NotExecutable);

        PluginException e = LoadFails(PluginPaths.Config("fake", path));

        Assert.Equal("fake", e.Plugin);
        Assert.Contains($"'{path}' is not a .NET assembly", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_AssemblyWithNoPluginType_StopsNamingThePlugin()
    {
        PluginException e = LoadFails(PluginPaths.Config("core", PluginPaths.NoPlugin));

        Assert.Equal("core", e.Plugin);
        Assert.Contains("failed while finding its plugin type", e.Message, StringComparison.Ordinal);
        Assert.Contains("has no public non-abstract class implementing Kaze.Plugin.IKazePlugin", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_SeveralPluginTypesAndNoneNamed_StopsAskingForAType()
    {
        PluginException e = LoadFails(PluginPaths.Config("tests", PluginPaths.Tests));

        Assert.Contains("has several plugin types", e.Message, StringComparison.Ordinal);
        Assert.Contains(PluginPaths.TestType(nameof(TestPlugins.ThrowingServicesPlugin)), e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(nameof(TestPlugins.AbstractPlugin), e.Message, StringComparison.Ordinal);
        Assert.Contains("name one in plugins:tests:type", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Kaze.Sidecar.Tests.Plugins.TestPlugins.Nope", "has no public type")]
    [InlineData("Kaze.Sidecar.Tests.Plugins.PluginPaths", "has no public type")]
    [InlineData("Kaze.Sidecar.Tests.Plugins.PluginLoaderTests", "is not a non-abstract class implementing Kaze.Plugin.IKazePlugin")]
    [InlineData("Kaze.Sidecar.Tests.Plugins.TestPlugins.AbstractPlugin", "is not a non-abstract class implementing Kaze.Plugin.IKazePlugin")]
    public void Load_NamedTypeThatIsNotAPlugin_StopsNamingThePlugin(string type, string expected)
    {
        PluginException e = LoadFails(PluginPaths.Config("tests", PluginPaths.Tests, type));

        Assert.Equal("tests", e.Plugin);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ConstructorThrows_StopsNamingThePluginWithTheError()
    {
        PluginException e = LoadFails(PluginPaths.Config("thrower", PluginPaths.Tests, PluginPaths.TestType(nameof(TestPlugins.ThrowingConstructorPlugin))));

        Assert.Equal($"plugin 'thrower' failed while creating {PluginPaths.TestType(nameof(TestPlugins.ThrowingConstructorPlugin))}: constructor boom", e.Message);
        Assert.IsType<InvalidOperationException>(e.InnerException);
    }

    [Theory]
    [InlineData(nameof(TestPlugins.ThrowingServicesPlugin), "configuring its services: services boom")]
    [InlineData(nameof(TestPlugins.ThrowingPipelinePlugin), "adding its middleware: pipeline boom")]
    public void Build_PluginThatThrows_StopsTheStartNamingThePlugin(string type, string expected)
    {
        IConfigurationRoot configuration = LimiterHarness.Configuration(PluginPaths.Config("thrower", PluginPaths.Tests, PluginPaths.TestType(type)));
        IReadOnlyList<IKazePlugin> plugins = PluginLoader.Load(configuration);

        var e = Assert.Throws<PluginException>(() => SidecarApp.Build(KazeSettings.Defaults, withHost: false, _ => { }, configuration, plugins));

        Assert.Equal("thrower", e.Plugin);
        Assert.Equal("plugin 'thrower' failed while " + expected, e.Message);
    }

    [Fact]
    public async Task Build_LoadedPlugin_GetsItsKeyAsNameAndItsSectionUnderPlugins()
    {
        IConfigurationRoot configuration = LimiterHarness.Configuration(PluginPaths.Config("mine", PluginPaths.Tests, PluginPaths.TestType(nameof(TestPlugins.ReportingPlugin)), "\"x\": \"42\""));

        await using SidecarApp app = SidecarApp.Build(KazeSettings.Defaults, withHost: false, _ => { }, configuration, PluginLoader.Load(configuration));

        Assert.Equal(Tuple.Create("mine", (string?)"42"), app.Services.GetRequiredService<Tuple<string, string?>>());
        Assert.Equal(["mine"], app.Node.Pipeline.Names);
    }

    [Fact]
    public void Load_SeveralPlugins_OrderedByOrderThenName()
    {
        string reporting = PluginPaths.TestType(nameof(TestPlugins.ReportingPlugin));
        string assembly = System.Text.Json.JsonSerializer.Serialize(PluginPaths.Tests);
        IConfigurationRoot configuration = LimiterHarness.Configuration($$"""
            {
              "plugins": {
                "b": { "assembly": {{assembly}}, "type": "{{reporting}}" },
                "a": { "assembly": {{assembly}}, "type": "{{reporting}}" },
                "z": { "assembly": {{assembly}}, "type": "{{reporting}}", "order": -1 },
                "c": { "assembly": {{assembly}}, "type": "{{reporting}}", "order": 5 }
              }
            }
            """);

        Assert.Equal(["z", "a", "b", "c"], PluginLoader.Load(configuration).Select(p => p.Name));
    }

    private static PluginException LoadFails(string json) =>
        Assert.Throws<PluginException>(() => PluginLoader.Load(LimiterHarness.Configuration(json)));
}
