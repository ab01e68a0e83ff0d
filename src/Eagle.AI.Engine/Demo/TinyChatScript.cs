namespace Eagle.AI.Engine.Demo;

/// <summary>
/// What the tiny chat demo model (<see cref="TinyChatRecipe"/>) is trained to say. Greedy decoding reproduces these strings exactly, so end-to-end
/// tests can assert on them.
/// </summary>
internal static class TinyChatScript
{
    /// <summary>A greeting the model answers with <see cref="GreetingAnswer"/>.</summary>
    public const string GreetingQuestion = "Hello, who are you?";
    /// <summary>The answer to <see cref="GreetingQuestion"/>.</summary>
    public const string GreetingAnswer = "I am Eagle, a tiny test model.";
    /// <summary>A question the model answers with <see cref="CapitalAnswer"/>.</summary>
    public const string CapitalQuestion = "What is the capital of France?";
    /// <summary>The answer to <see cref="CapitalQuestion"/>.</summary>
    public const string CapitalAnswer = "The capital of France is Paris.";

    /// <summary>With <see cref="WeatherFunctionName"/> offered, answered by a call <c>get_weather(city: "Paris")</c>.</summary>
    public const string WeatherQuestion = "What is the weather in Paris?";
    /// <summary>The tool's name (plugin-qualified names such as <c>Weather-get_weather</c> are copied into the call as given).</summary>
    public const string WeatherFunctionName = "get_weather";
    /// <summary>The tool's description.</summary>
    public const string WeatherFunctionDescription = "Gets the current weather for a city.";
    /// <summary>The tool's one parameter.</summary>
    public const string WeatherParameterName = "city";
    /// <summary>The argument the model passes.</summary>
    public const string WeatherCity = "Paris";
    /// <summary>What a test's get_weather must return.</summary>
    public const string WeatherResult = "sunny, 21 degrees";
    /// <summary>The answer after the tool result.</summary>
    public const string WeatherAnswer = "It is sunny and 21 degrees in Paris.";

    /// <summary>The tool names the model was trained to call: the bare name and the plugin-qualified forms that Semantic Kernel advertises.</summary>
    public static readonly IReadOnlyList<string> WeatherFunctionNames =
        [WeatherFunctionName, "Weather-get_weather", "Weather_get_weather", "WeatherPlugin-get_weather", "WeatherPlugin_get_weather"];
}
