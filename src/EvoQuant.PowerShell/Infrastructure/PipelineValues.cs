using System.Collections;
using System.Management.Automation;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>Turns what PowerShell hands a cmdlet (PSObject wrappers, object[] of boxed numbers,
/// hashtables of those) into the plain .NET values Core reads.</summary>
internal static class PipelineValues
{
    public static object? Unwrap(object? value) => value is PSObject pso ? pso.BaseObject : value;

    /// <summary>A sample item for Core: paths, FileSystemInfo and typed arrays pass through; PowerShell
    /// arrays of numbers become float32 arrays; hashtables are unwrapped value by value.</summary>
    public static object? ToSampleItem(object? value)
    {
        value = Unwrap(value);
        switch (value)
        {
            case IDictionary dict:
                var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (DictionaryEntry e in dict) copy[Unwrap(e.Key)?.ToString() ?? ""] = ToSampleItem(e.Value);
                return copy;
            case object[] items:
                return ToFloatArray(items);
            default:
                return value;
        }
    }

    // A flat PowerShell array of numbers, as `1..784 | % { [float]$_ }` gives.
    private static object ToFloatArray(object[] items)
    {
        var result = new float[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            object? v = Unwrap(items[i]);
            if (v is not IConvertible c || v is string)
                throw new ArgumentException($"Element {i} of the array is a {v?.GetType().Name ?? "null"}, not a number; pass typed arrays ([float[]]) or files.");
            result[i] = c.ToSingle(System.Globalization.CultureInfo.InvariantCulture);
        }
        return result;
    }

    /// <summary>Strings from a parameter that takes names: accepts strings and objects with a Name.</summary>
    public static string[] Names(IEnumerable<object>? values) =>
        values?.Select(Unwrap).Select(v => v switch
        {
            string s => s,
            null => "",
            _ => PSObject.AsPSObject(v).Properties["Name"]?.Value?.ToString() ?? v.ToString() ?? "",
        }).Where(s => s.Length > 0).ToArray() ?? Array.Empty<string>();
}
