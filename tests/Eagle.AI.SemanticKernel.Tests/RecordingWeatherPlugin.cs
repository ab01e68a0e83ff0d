using System.Collections.Concurrent;
using System.ComponentModel;
using Eagle.AI.Testing;
using Microsoft.SemanticKernel;

namespace Eagle.AI.SemanticKernel.Tests;

/// <summary>The get_weather tool the tiny chat model was trained to call; remembers every city it was asked about.</summary>
public sealed class RecordingWeatherPlugin
{
    /// <summary>The plugin name the tests register it under (the model was trained on <c>Weather_get_weather</c> too).</summary>
    public const string PluginName = "Weather";

    private readonly ConcurrentQueue<string> _cities = new();

    /// <summary>The cities asked about, in call order.</summary>
    public IReadOnlyList<string> Cities => [.. _cities];

    /// <summary>Returns <see cref="TinyChatScript.WeatherResult"/>, the result the model's script continues from.</summary>
    [KernelFunction(TinyChatScript.WeatherFunctionName)]
    [Description(TinyChatScript.WeatherFunctionDescription)]
    public string GetWeather([Description("The city name.")] string city)
    {
        _cities.Enqueue(city);
        return TinyChatScript.WeatherResult;
    }
}
