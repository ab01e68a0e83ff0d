using System.ComponentModel;
using Microsoft.SemanticKernel;

namespace Eagle.Samples.Agents;

/// <summary>
/// A Semantic Kernel plugin the agent calls as a tool. The forecasts are a fixed table standing in for a weather
/// service, so the sample runs offline; a real plugin would call the service here.
/// </summary>
public sealed class WeatherPlugin
{
    private static readonly Dictionary<string, string> Forecasts = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Paris"] = "sunny, 21 degrees",
        ["London"] = "light rain, 14 degrees",
        ["Tokyo"] = "cloudy, 18 degrees",
    };

    /// <summary>The current weather in <paramref name="city"/>.</summary>
    /// <param name="city">The city name.</param>
    /// <returns>A short forecast, or a sentence saying there is none for that city.</returns>
    [KernelFunction("get_weather")]
    [Description("Gets the current weather for a city.")]
    public static string GetWeather([Description("The city name.")] string city) =>
        Forecasts.TryGetValue(city.Trim(), out var forecast) ? forecast : $"no forecast is available for {city}";
}
