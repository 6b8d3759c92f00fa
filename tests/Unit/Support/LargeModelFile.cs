using System.Runtime.InteropServices;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using Google.Protobuf;

namespace EvoQuant.Tests.Support;

/// <summary>A transformer-shaped float model written straight to disk with external data (shared with the
/// bench's <c>large-models</c> entry): opset 17, <c>blocks</c> x (MatMul [width x width] + Add bias + Relu),
/// input "x" [batch, width] (batch symbolic), output "y". Weights are written one tensor at a time, so a
/// model larger than memory can be made; values are deterministic (xorshift), scaled 1/sqrt(width) so
/// activations keep their size through the blocks.</summary>
internal static class LargeModelFile
{
    /// <summary>Writes <paramref name="folder"/>/<paramref name="name"/> and its data file; returns the model path.</summary>
    public static string Write(string folder, int blocks, int width, string name = "large.onnx")
    {
        Directory.CreateDirectory(folder);
        string dataName = name + ".data";
        var g = new GraphProto { Name = "large" };
        g.Input.Add(Value("x", width));
        g.Output.Add(Value("y", width));
        var buffer = new float[(long)width * width];
        ulong state = 0x9E3779B97F4A7C15UL;
        float scale = 1f / MathF.Sqrt(width);
        using (var data = new FileStream(Path.Combine(folder, dataName), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            void Tensor(string tensorName, long[] dims, int count, float amplitude)
            {
                for (int i = 0; i < count; i++)
                {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                    buffer[i] = ((float)(state >> 40) / (1 << 24) * 2f - 1f) * amplitude;
                }
                long offset = (data.Position + 4095) / 4096 * 4096;
                data.SetLength(offset);
                data.Position = offset;
                var bytes = MemoryMarshal.AsBytes(buffer.AsSpan(0, count));
                data.Write(bytes);
                var t = new TensorProto { Name = tensorName, DataType = ElementTypes.Float, DataLocation = TensorProto.Types.DataLocation.External };
                t.Dims.AddRange(dims);
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
                t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
                t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.Length.ToString() });
                g.Initializer.Add(t);
            }
            string x = "x";
            for (int b = 0; b < blocks; b++)
            {
                Tensor($"blocks.{b}.w", new long[] { width, width }, width * width, scale * 1.7f);
                Tensor($"blocks.{b}.b", new long[] { width }, width, 0.1f);
                string mm = $"/blocks.{b}/MatMul_output_0", add = $"/blocks.{b}/Add_output_0";
                string y = b == blocks - 1 ? "y" : $"/blocks.{b}/Relu_output_0";
                g.Node.Add(Node("MatMul", $"/blocks.{b}/MatMul", new[] { x, $"blocks.{b}.w" }, mm));
                g.Node.Add(Node("Add", $"/blocks.{b}/Add", new[] { mm, $"blocks.{b}.b" }, add));
                g.Node.Add(Node("Relu", $"/blocks.{b}/Relu", new[] { add }, y));
                x = y;
            }
        }
        var model = new ModelProto { IrVersion = 8, ProducerName = "evoquant-tests", Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    /// <summary>Float weight bytes of a model <see cref="Write"/> makes.</summary>
    public static long WeightBytes(int blocks, int width) => blocks * ((long)width * width + width) * 4;

    /// <summary>Deterministic calibration rows for input "x": <paramref name="rows"/> x <paramref name="width"/>.</summary>
    public static EvoQuant.Data.NamedTensor Input(int rows, int width, int seed = 7)
    {
        var rng = new Random(seed);
        var v = new float[rows * width];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return new EvoQuant.Data.NamedTensor("x", v, new long[] { rows, width });
    }

    private static ValueInfoProto Value(string name, int width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Float, Shape = shape } },
        };
    }

    private static NodeProto Node(string op, string name, string[] inputs, string output)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        return n;
    }
}
