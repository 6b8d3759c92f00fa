using System.Management.Automation;
using EvoQuant.Onnx;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>Lets a model parameter take a model object, a path or a FileInfo: `-Model ./m.onnx` and
/// `-Model $m` both work.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ModelTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject pso ? pso.BaseObject : inputData;
        switch (value)
        {
            case OnnxModel model:
                return model;
            case FileInfo file:
                return Load(file.FullName);
            case string path:
                string resolved = engineIntrinsics.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
                return Load(resolved);
            default:
                // Objects that carry a model (e.g. a quantization result) expose it as .Model.
                var modelProperty = (inputData as PSObject ?? PSObject.AsPSObject(value)).Properties["Model"];
                if (modelProperty?.Value is OnnxModel m) return m;
                if (modelProperty?.Value is PSObject { BaseObject: OnnxModel m2 }) return m2;
                throw new ArgumentTransformationMetadataException($"Cannot use a {value?.GetType().Name ?? "null"} as a model; give a path, a FileInfo or a model from Get-OnnxGraph.");
        }
    }

    private static OnnxModel Load(string path)
    {
        try { return OnnxModel.Load(path); }
        catch (OnnxModelException e) { throw new ArgumentTransformationMetadataException(e.Message, e); }
    }
}
