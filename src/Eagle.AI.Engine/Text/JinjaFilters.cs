using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Eagle.AI.Engine.Text;

/// <summary>
/// The Python semantics the Hugging Face chat templates rely on, so that prompts match them byte for byte:
/// Jinja's <c>trim</c> (<c>str.strip()</c>), transformers' <c>tojson</c> (<c>json.dumps(ensure_ascii=False)</c>) and
/// <c>{{ value }}</c> (<c>str(value)</c>) for JSON values.
/// </summary>
internal static class JinjaFilters
{
    /// <summary>Python's <c>str.strip()</c>: .NET's white space plus U+001C-U+001F, which Python also strips.</summary>
    public static string Trim(string text)
    {
        int start = 0, end = text.Length;
        while (start < end && IsPythonSpace(text[start]))
        {
            start++;
        }
        while (end > start && IsPythonSpace(text[end - 1]))
        {
            end--;
        }
        return text[start..end];
    }

    /// <summary>
    /// transformers' <c>tojson</c> filter, i.e. <c>json.dumps(value, ensure_ascii=False, indent=indent)</c>: separators
    /// <c>", "</c>/<c>": "</c> on one line, or <c>","</c> plus newline and <paramref name="indent"/> spaces per level;
    /// non-ASCII characters are written as is, numbers as Python would print the parsed int or float.
    /// </summary>
    public static string ToJson(JsonElement value, int? indent = null)
    {
        var text = new StringBuilder();
        WriteJson(text, value, indent, 0);
        return text.ToString();
    }

    /// <summary>Jinja's <c>{{ value }}</c> for a JSON scalar: Python's <c>str()</c> of the parsed value.</summary>
    public static string ToText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        // str(float('inf')) is 'inf', where json.dumps writes 'Infinity'.
        JsonValueKind.Number => FormatNumber(value.GetRawText()) switch { "Infinity" => "inf", "-Infinity" => "-inf", var text => text },
        JsonValueKind.True => "True",
        JsonValueKind.False => "False",
        JsonValueKind.Null => "None",
        _ => ToJson(value),
    };

    private static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    private static void WriteJson(StringBuilder text, JsonElement value, int? indent, int depth)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                WriteContainer(text, '{', '}', value.EnumerateObject().Select(p => ((string?)p.Name, p.Value)), indent, depth);
                break;
            case JsonValueKind.Array:
                WriteContainer(text, '[', ']', value.EnumerateArray().Select(e => ((string?)null, e)), indent, depth);
                break;
            case JsonValueKind.String:
                WriteString(text, value.GetString()!);
                break;
            case JsonValueKind.Number:
                text.Append(FormatNumber(value.GetRawText()));
                break;
            default:
                text.Append(value.GetRawText());
                break;
        }
    }

    private static void WriteContainer(
        StringBuilder text, char open, char close, IEnumerable<(string? Name, JsonElement Value)> items, int? indent, int depth)
    {
        text.Append(open);
        bool first = true;
        foreach (var (name, item) in items)
        {
            text.Append(first ? "" : indent is null ? ", " : ",");
            if (indent is int step)
            {
                text.Append('\n').Append(' ', step * (depth + 1));
            }
            if (name is not null)
            {
                WriteString(text, name);
                text.Append(": ");
            }
            WriteJson(text, item, indent, depth + 1);
            first = false;
        }
        // json.dumps writes empty containers as {} and [] even when indenting.
        if (!first && indent is int width)
        {
            text.Append('\n').Append(' ', width * depth);
        }
        text.Append(close);
    }

    private static void WriteString(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                case < ' ': text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default: text.Append(c); break;
            }
        }
        text.Append('"');
    }

    /// <summary>A JSON number as Python prints it after <c>json.loads</c>: integers unchanged, others as <c>repr(float)</c>.</summary>
    private static string FormatNumber(string raw)
    {
        if (raw.AsSpan().IndexOfAny('.', 'e', 'E') < 0)
        {
            return raw == "-0" ? "0" : raw;
        }
        double number = double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
        return double.IsInfinity(number) ? (number > 0 ? "Infinity" : "-Infinity") : PythonFloatRepr(number);
    }

    /// <summary>Python's <c>repr(float)</c>: shortest round-trip digits, exponent form when the exponent is below -4 or above 15.</summary>
    private static string PythonFloatRepr(double number)
    {
        if (number == 0)
        {
            return double.IsNegative(number) ? "-0.0" : "0.0";
        }
        // "R" gives the shortest round-trip digits, e.g. "-1.2345E-05"; split it into sign, digits and decimal point.
        string r = number.ToString("R", CultureInfo.InvariantCulture);
        string sign = r.StartsWith('-') ? "-" : "";
        r = r.TrimStart('-');
        int e = r.IndexOfAny(['E', 'e']);
        int exponent = e < 0 ? 0 : int.Parse(r.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        string mantissa = e < 0 ? r : r[..e];
        int dot = mantissa.IndexOf('.');
        string digits = dot < 0 ? mantissa : mantissa.Remove(dot, 1);
        int pointAt = (dot < 0 ? mantissa.Length : dot) + exponent;
        int leadingZeros = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        pointAt -= leadingZeros;

        // The value is 0.DIGITS x 10^pointAt.
        if (pointAt is <= -4 or > 16)
        {
            string fraction = digits.Length > 1 ? "." + digits[1..] : "";
            int power = pointAt - 1;
            return $"{sign}{digits[0]}{fraction}e{(power < 0 ? '-' : '+')}{Math.Abs(power):00}";
        }
        if (pointAt <= 0)
        {
            return $"{sign}0.{new string('0', -pointAt)}{digits}";
        }
        return pointAt >= digits.Length
            ? $"{sign}{digits}{new string('0', pointAt - digits.Length)}.0"
            : $"{sign}{digits[..pointAt]}.{digits[pointAt..]}";
    }
}
