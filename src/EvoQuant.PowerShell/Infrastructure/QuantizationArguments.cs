using System.Collections;
using System.Management.Automation;
using EvoQuant.Calibration;
using EvoQuant.Numerics;
using EvoQuant.Quantization;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>Converts Invoke-Quantization's PowerShell-friendly arguments (type names as the reference
/// tool spells them, hashtables) into Core's option values.</summary>
internal static class QuantizationArguments
{
    /// <summary>The reference tool's names: QInt8, QUInt8, QInt16, QUInt16, QInt4, QUInt4.</summary>
    public static readonly string[] TypeNames = { "QInt8", "QUInt8", "QInt16", "QUInt16", "QInt4", "QUInt4" };

    public static QuantType ParseType(string name) => name.ToUpperInvariant() switch
    {
        "QINT8" or "INT8" => QuantType.Int8,
        "QUINT8" or "UINT8" => QuantType.UInt8,
        "QINT16" or "INT16" => QuantType.Int16,
        "QUINT16" or "UINT16" => QuantType.UInt16,
        "QINT4" or "INT4" => QuantType.Int4,
        "QUINT4" or "UINT4" => QuantType.UInt4,
        _ => throw new ArgumentException($"Unknown quantization type '{name}'; use one of {string.Join(", ", TypeNames)}."),
    };

    /// <summary>Activation ranges from a calibration table, a saved table's path, or a hashtable
    /// tensor -> @(min, max); and a table's searched weight-scale factors (EQ's) and MatMul inputs' channel ranges
    /// (none from a hashtable).</summary>
    public static (IReadOnlyDictionary<string, ActivationRange> Ranges, IReadOnlyDictionary<string, float> WeightScaleFactors,
        IReadOnlyDictionary<string, EvoQuant.Quantization.Smoothing.ChannelRange> ChannelRanges) Calibration(
        object calibration, Func<string, string> resolvePath)
    {
        switch (PipelineValues.Unwrap(calibration))
        {
            case CalibrationTable table:
                return FromTable(table);
            case string path:
                return FromTable(CalibrationTable.Load(resolvePath(path)));
            case FileInfo file:
                return FromTable(CalibrationTable.Load(file.FullName));
            case IDictionary dict:
                var ranges = new Dictionary<string, ActivationRange>(StringComparer.Ordinal);
                foreach (DictionaryEntry e in dict)
                {
                    var pair = e.Value == null ? null : LanguagePrimitives.ConvertTo<double[]>(e.Value);
                    if (pair == null || pair.Length != 2) throw new ArgumentException($"Range of '{e.Key}' must be @(min, max).");
                    ranges[e.Key.ToString()!] = new ActivationRange((float)pair[0], (float)pair[1]);
                }
                return (ranges, new Dictionary<string, float>(), new Dictionary<string, EvoQuant.Quantization.Smoothing.ChannelRange>());
            case object[] many:
                return FromTable(CalibrationTable.Merge(many.Select(PipelineValues.Unwrap).OfType<CalibrationTable>()));
            default:
                throw new ArgumentException($"-Calibration takes a table from Measure-Calibration, the path of a saved table, or a hashtable tensor -> @(min, max); got a {calibration.GetType().Name}.");
        }
    }

    private static (IReadOnlyDictionary<string, ActivationRange>, IReadOnlyDictionary<string, float>,
        IReadOnlyDictionary<string, EvoQuant.Quantization.Smoothing.ChannelRange>) FromTable(CalibrationTable table) =>
        (QuantizationOptions.RangesOf(table), table.WeightScaleFactors, table.ChannelRanges);

    /// <summary>@{ tensor = @{ Type='QInt16'; Scale=0.01; ZeroPoint=0; Min=-1; Max=1 } }</summary>
    public static IReadOnlyDictionary<string, TensorOverride> Overrides(Hashtable? table)
    {
        var result = new Dictionary<string, TensorOverride>(StringComparer.Ordinal);
        if (table == null) return result;
        foreach (DictionaryEntry e in table)
        {
            if (PipelineValues.Unwrap(e.Value) is not IDictionary settings)
                throw new ArgumentException($"-TensorOverride '{e.Key}' must map to a hashtable such as @{{ Scale = 0.01; ZeroPoint = 0 }}.");
            var o = new TensorOverride();
            foreach (DictionaryEntry s in settings)
            {
                object? v = PipelineValues.Unwrap(s.Value);
                switch (s.Key.ToString()!.ToUpperInvariant())
                {
                    case "TYPE": o = o with { Type = ParseType(v!.ToString()!) }; break;
                    case "SCALE": o = o with { Scale = LanguagePrimitives.ConvertTo<float>(v) }; break;
                    case "ZEROPOINT": o = o with { ZeroPoint = LanguagePrimitives.ConvertTo<int>(v) }; break;
                    case "MIN" or "RANGEMIN": o = o with { RangeMin = LanguagePrimitives.ConvertTo<float>(v) }; break;
                    case "MAX" or "RANGEMAX": o = o with { RangeMax = LanguagePrimitives.ConvertTo<float>(v) }; break;
                    default: throw new ArgumentException($"-TensorOverride '{e.Key}': unknown setting '{s.Key}' (use Type, Scale, ZeroPoint, Min, Max).");
                }
            }
            result[e.Key.ToString()!] = o;
        }
        return result;
    }
}
