using System.Security.Cryptography;

namespace EvoQuant.Quantization;

/// <summary>
/// A refactoring aid: when EVOQUANT_RECORD_OUTPUTS names a file, every model the quantizer returns is
/// appended to it as "input-hash output-hash mode format", so two test runs (before and after a change
/// meant to keep outputs byte-identical) can be compared with tools/compare-outputs.sh. Off otherwise.
/// </summary>
internal static class OutputRecorder
{
    private static readonly string? File = Environment.GetEnvironmentVariable("EVOQUANT_RECORD_OUTPUTS");
    private static readonly object Gate = new();

    public static QuantizationResult Record(Onnx.OnnxModel input, QuantizationResult result)
    {
        if (string.IsNullOrEmpty(File)) return result;
        string line = $"{Hash(input.ToBytes())} {Hash(result.Model.ToBytes())} {result.Mode} {result.Format}";
        lock (Gate) System.IO.File.AppendAllText(File, line + Environment.NewLine);
        return result;
    }

    private static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes))[..16];
}
