using System.Text.Json;
using System.Text.Json.Serialization;

namespace EvoQuant.Calibration;

// JSON form of a calibration table. Format "evoquant-calibration", version 1:
// { format, version, model, sampleCount, errorCount, settings{...}, ranges[{tensor, method, min, max,
//   rangeMin, rangeMax, elementCount, batchCount, nonFiniteCount, batchMinSum, batchMaxSum,
//   histogram{absolute, binsPerSide, widthExponent, firstBin, counts[]},
//   candidates[{method, rangeMin, rangeMax, mse}] and modelChoice{uniform, rows, scores[{method, sqnr}]} (Auto only), search{base, factor, baseCosine, cosine, layers, weights[{weight, factor, baseCosine, cosine}]} (EQ only)}], skipped[{tensor, reason}] }
public sealed partial class CalibrationTable
{
    public const string JsonFormatName = "evoquant-calibration";
    public const int JsonFormatVersion = 1;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    private sealed class FileDto
    {
        public string Format { get; set; } = JsonFormatName;
        public int Version { get; set; } = JsonFormatVersion;
        public string? Model { get; set; }
        public long SampleCount { get; set; }
        public int ErrorCount { get; set; }
        public CalibrationSettings? Settings { get; set; }
        public List<RangeDto> Ranges { get; set; } = new();
        public List<SkippedTensor> Skipped { get; set; } = new();
    }

    private sealed class RangeDto
    {
        public string Tensor { get; set; } = "";
        public CalibrationMethod Method { get; set; }
        public float Min { get; set; }
        public float Max { get; set; }
        public float RangeMin { get; set; }
        public float RangeMax { get; set; }
        public long ElementCount { get; set; }
        public long BatchCount { get; set; }
        public long NonFiniteCount { get; set; }
        public double BatchMinSum { get; set; }
        public double BatchMaxSum { get; set; }
        public HistogramData? Histogram { get; set; }
        public List<MethodCandidate>? Candidates { get; set; }
        public ScaleSearch? Search { get; set; }
        public AutoModelChoice? ModelChoice { get; set; }
    }

    public string ToJson()
    {
        var dto = new FileDto
        {
            Model = ModelName, SampleCount = SampleCount, ErrorCount = ErrorCount, Settings = Settings, Skipped = Skipped.ToList(),
            Ranges = Ranges.Select(r => new RangeDto
            {
                Tensor = r.Tensor, Method = r.Method, Min = r.Min, Max = r.Max, RangeMin = r.RangeMin, RangeMax = r.RangeMax,
                ElementCount = r.ElementCount, BatchCount = r.BatchCount, NonFiniteCount = r.NonFiniteCount,
                BatchMinSum = r.BatchMinSum, BatchMaxSum = r.BatchMaxSum, Histogram = r.Histogram,
                Candidates = r.Candidates?.ToList(), Search = r.Search, ModelChoice = r.ModelChoice,
            }).ToList(),
        };
        return JsonSerializer.Serialize(dto, JsonOptions);
    }

    /// <summary>Reads a table written by <see cref="ToJson"/>; throws <see cref="FormatException"/> for
    /// anything else (another format, a newer version, missing fields).</summary>
    public static CalibrationTable FromJson(string json, string? source = null)
    {
        string where = source != null ? $"'{source}'" : "The text";
        FileDto? dto;
        try { dto = JsonSerializer.Deserialize<FileDto>(json, JsonOptions); }
        catch (JsonException e) { throw new FormatException($"{where} is not a calibration table: {e.Message}", e); }
        if (dto == null || dto.Format != JsonFormatName)
            throw new FormatException($"{where} is not an EvoQuant calibration table (format '{dto?.Format}').");
        if (dto.Version > JsonFormatVersion)
            throw new FormatException($"{where} uses calibration table version {dto.Version}; this EvoQuant reads up to version {JsonFormatVersion}.");
        if (dto.Settings == null) throw new FormatException($"{where} has no settings.");
        if (dto.Ranges == null || dto.Ranges.Any(r => r == null || string.IsNullOrEmpty(r.Tensor)))
            throw new FormatException($"{where} has a range without a tensor name.");
        var ranges = dto.Ranges.Select(r => new TensorRange(r.Tensor, r.Method, r.Min, r.Max, r.RangeMin, r.RangeMax)
        {
            ElementCount = r.ElementCount, BatchCount = r.BatchCount, NonFiniteCount = r.NonFiniteCount,
            BatchMinSum = r.BatchMinSum, BatchMaxSum = r.BatchMaxSum, Histogram = r.Histogram, Candidates = r.Candidates, Search = r.Search, ModelChoice = r.ModelChoice,
        }).ToList();
        ImportedRangeRules.Check(ranges, where);
        try
        {
            return new CalibrationTable(dto.Settings, ranges, dto.Skipped ?? new List<SkippedTensor>())
            {
                ModelName = dto.Model, SampleCount = dto.SampleCount, ErrorCount = dto.ErrorCount,
            };
        }
        catch (ArgumentException e) { throw new FormatException($"{where}: {e.Message}", e); }
    }
}
