using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Quantization;

/// <summary>Loads a produced model in ONNX Runtime and runs it once on deterministic inputs of the
/// declared shapes (symbolic dimensions = 1), so that a model ORT refuses never reaches the user.</summary>
public static class RuntimeVerifier
{
    /// <summary>Returns null when ONNX Runtime can load the model (build a session), else its message.</summary>
    public static string? TryLoad(byte[] modelBytes) => TryLoad(o => new InferenceSession(modelBytes, o));

    /// <summary>Returns null when ONNX Runtime can load the model file, else its message.</summary>
    public static string? TryLoad(RuntimeModelFile model) => TryLoad(model.Open);

    /// <summary>Returns null when the model loads and runs, else ORT's message.</summary>
    public static string? TryRun(byte[] modelBytes) => TryRun(o => new InferenceSession(modelBytes, o));

    /// <summary>Returns null when the model file loads and runs, else ORT's message. <paramref name="prepackWeights"/>:
    /// see <see cref="TryRunFile"/>.</summary>
    public static string? TryRun(RuntimeModelFile model, bool prepackWeights = false) => TryRun(model.Open, prepackWeights);

    /// <summary>Returns null when the model at <paramref name="modelPath"/> (a file of ours: its external
    /// locations are not re-checked) loads and runs, else ORT's message. <paramref name="prepackWeights"/> for
    /// weight-only blocks (MatMulNBits, and block DequantizeLinear + MatMul, which ORT fuses into it): that
    /// kernel, its weights not prepacked, dequantizes each whole weight to float on every run (8x its 4-bit
    /// bytes), while prepacked weights replace the stored ones.</summary>
    internal static string? TryRunFile(string modelPath, bool prepackWeights = false) => TryRun(o => new InferenceSession(modelPath, o), prepackWeights);

    private static string? TryLoad(Func<SessionOptions, InferenceSession> open)
    {
        try
        {
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
            using var session = open(options);
            return null;
        }
        catch (OnnxRuntimeException e) { return e.Message; }
    }

    private static string? TryRun(Func<SessionOptions, InferenceSession> open, bool prepackWeights = false)
    {
        try
        {
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            // Verification runs once: prepacked copies of the weights would only add to the peak (except
            // for the weight-only kernels, see TryRunFile).
            if (!prepackWeights) options.AddSessionConfigEntry("session.disable_prepacking", "1");
            using var session = open(options);
            var inputs = new List<NamedOnnxValue>();
            var rng = new Random(1234);
            foreach (var (name, meta) in session.InputMetadata)
            {
                if (!meta.IsTensor) return null; // sequences/maps: nothing generic to feed; loading succeeded
                var dims = meta.Dimensions.Select(d => d > 0 ? d : 1).ToArray();
                int count = dims.Aggregate(1, (a, b) => checked(a * b));
                inputs.Add(meta.ElementDataType switch
                {
                    TensorElementType.Float => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(Enumerable.Range(0, count).Select(_ => (float)rng.NextDouble()).ToArray(), dims)),
                    TensorElementType.Double => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<double>(new double[count], dims)),
                    TensorElementType.Int64 => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(new long[count], dims)),
                    TensorElementType.Int32 => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<int>(new int[count], dims)),
                    TensorElementType.UInt8 => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<byte>(new byte[count], dims)),
                    TensorElementType.Int8 => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<sbyte>(new sbyte[count], dims)),
                    TensorElementType.Bool => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<bool>(new bool[count], dims)),
                    TensorElementType.Float16 => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<Float16>(new Float16[count], dims)),
                    _ => throw new NotSupportedException($"input '{name}' of type {meta.ElementDataType}"),
                });
            }
            using var results = session.Run(inputs);
            return null;
        }
        catch (NotSupportedException) { return null; } // cannot build an input: loading succeeded, which is the main check
        catch (OnnxRuntimeException e) { return e.Message; }
        // The session is gone: what it freed goes back to the system, not only to the next native allocations,
        // or the process holds a second copy of the model's weights' worth while it reads the output back.
        finally { NativeHeap.Trim(); }
    }
}
