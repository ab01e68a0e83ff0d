namespace Eagle.AI.Engine;
internal static class Placeholder { }
