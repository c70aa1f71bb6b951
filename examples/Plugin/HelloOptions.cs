using Microsoft.Extensions.Configuration;

namespace Kaze.Plugin.Hello;

/// <summary>The plugin's settings, from its section "plugins:hello".</summary>
/// <remarks>Defaults: <see cref="Greeting"/> = "hello".</remarks>
internal sealed record HelloOptions
{
    /// <summary>The first word of the answer to a "hello" request.</summary>
    public string Greeting { get; init; } = "hello";

    /// <summary>Reads the section; every problem is listed with its key.</summary>
    public static HelloOptions Read(IConfiguration section, out List<string> problems)
    {
        problems = [];
        string path = section is IConfigurationSection s ? s.Path : "plugins:hello";
        string? greeting = section["greeting"];
        if (greeting is not null && string.IsNullOrWhiteSpace(greeting))
        {
            problems.Add($"{path}:greeting: must not be empty");
        }

        return new HelloOptions { Greeting = string.IsNullOrWhiteSpace(greeting) ? "hello" : greeting };
    }
}
