using System.Globalization;
using System.Text;

namespace EvoQuant.Calibration;

// calibration.cache as ONNX Runtime's quantization tool writes it (write_calibration_table):
//   one line per tensor, "<tensor name> <max |x|>", no header. The tensor name may hold spaces, so the
//   value is what follows the last one. Only the symmetric range survives the round trip.
public sealed partial class CalibrationTable
{
    public string ToCalibrationCache()
    {
        var sb = new StringBuilder();
        foreach (var r in Ranges)
            sb.Append(r.Tensor).Append(' ').Append(r.AbsMax.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        return sb.ToString();
    }

    /// <summary>Reads "&lt;tensor&gt; &lt;max |x|&gt;" lines: each tensor gets the range ±max.</summary>
    public static CalibrationTable FromCalibrationCache(string text, string? source = null)
    {
        string where = source != null ? $"'{source}'" : "The text";
        var ranges = new List<TensorRange>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r', ' ', '\t');
            if (line.Length == 0) continue;
            int space = line.LastIndexOf(' ');
            if (space <= 0 || !double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double amax)
                || !double.IsFinite(amax) || amax < 0)
                throw new FormatException($"{where}, line {i + 1}: expected '<tensor> <max |x|>' with a finite, non-negative number, got '{line}'.");
            float a = (float)amax;
            ranges.Add(new TensorRange(line[..space].TrimEnd(), CalibrationMethod.MinMax, -a, a, -a, a));
        }
        if (ranges.Count == 0) throw new FormatException($"{where} holds no tensor.");
        ImportedRangeRules.Check(ranges, where);
        return new CalibrationTable(new CalibrationSettings { Method = CalibrationMethod.MinMax, Symmetric = true }, ranges);
    }
}
