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
        string line = $"{Hash(input)} {Hash(result.Model)} {result.Mode} {result.Format}";
        lock (Gate) System.IO.File.AppendAllText(File, line + Environment.NewLine);
        return result;
    }

    private static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes))[..16];

    // The model with its external data inlined, as before; one too large for a protobuf (over 2 GiB) is
    // hashed as its graph followed by each external tensor's bytes, one at a time.
    private static string Hash(Onnx.OnnxModel model)
    {
        if (model.TensorBytes() < new Onnx.ModelSaveOptions().ExternalDataAutoLimit) return Hash(model.ToBytes());
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(model.ToBytes(inlineExternalData: false));
        foreach (var t in model.Proto.Graph.Initializer.Where(Onnx.TensorData.IsExternal)) sha.AppendData(model.ReadExternal(t));
        return Convert.ToHexString(sha.GetHashAndReset())[..16];
    }
}
