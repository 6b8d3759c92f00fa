using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Tests.Quantization.Helpers;

/// <summary>Small hand-built float models with fixed-seed weights, for structure and numeric checks.</summary>
internal static class TinyModels
{
    public static float[] Random(int count, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
    }

    public static NodeProto Node(string op, string[] inputs, string[] outputs, string name = "", params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    public static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    /// <summary>A Constant node holding a float tensor (how PaddleOCR stores weights).</summary>
    public static NodeProto Constant(string output, long[] dims, float[] values) =>
        Node("Constant", Array.Empty<string>(), new[] { output }, output + "_const",
            new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = TensorData.FromFloats(output, dims, values) });

    public static ValueInfoProto Float(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(d > 0 ? new TensorShapeProto.Types.Dimension { DimValue = d } : new TensorShapeProto.Types.Dimension { DimParam = "N" });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Float, Shape = shape } } };
    }

    public static OnnxModel Model(GraphProto graph, long opset = 13)
    {
        var m = new ModelProto { IrVersion = 8, Graph = graph };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return new OnnxModel(m);
    }
}
