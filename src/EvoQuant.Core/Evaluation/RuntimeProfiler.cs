using EvoQuant.Data;
using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Evaluation;

/// <summary>Profiles a model node by node with ONNX Runtime on this machine (<c>SessionOptions.EnableProfiling</c>),
/// in a session set up as <see cref="SpeedComparer"/> times models: all graph optimizations, so what is profiled is
/// what a user runs (Q/DQ groups fused into integer kernels).</summary>
public static class RuntimeProfiler
{
    /// <summary>Runs the model <paramref name="warmupRuns"/> + <paramref name="runs"/> times on <paramref name="inputs"/>
    /// and returns the median kernel time of each node over the timed runs, with the node's inputs and outputs in
    /// the graph ONNX Runtime optimized (written by the session, read back).</summary>
    /// <param name="model">The model; its node names are the profile's (unnamed nodes get names from ONNX Runtime).</param>
    /// <param name="inputs">One batch, bound to the model's inputs.</param>
    /// <param name="threads">Intra-op threads; 0: the physical cores, as <see cref="SpeedOptions.Threads"/>.</param>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime cannot load or run the model.</exception>
    public static RuntimeProfile Profile(OnnxModel model, IReadOnlyDictionary<string, NamedTensor> inputs, int warmupRuns = 3, int runs = 10,
        int threads = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfNegative(warmupRuns);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        string folder = Path.Combine(Path.GetTempPath(), "evoquant-profile-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string profilePath;
            using (var sessionOptions = SpeedComparer.SessionOptionsFor(threads))
            {
                // The prefix first: enabling passes the prefix set at that moment to ONNX Runtime.
                sessionOptions.ProfileOutputPathPrefix = Path.Combine(folder, "profile");
                sessionOptions.EnableProfiling = true;
                // The graph that ran, for the profile's node names; weights go to a side file nobody reads.
                sessionOptions.OptimizedModelFilePath = Path.Combine(folder, "optimized.onnx");
                sessionOptions.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", "optimized.data");
                sessionOptions.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
                using var file = RuntimeModelFile.For(model);
                using var session = file.Open(sessionOptions);
                var names = inputs.Keys.ToList();
                var values = names.Select(n => inputs[n].ToOrtValue()).ToList();
                try
                {
                    using var runOptions = new RunOptions();
                    var outputs = session.OutputNames.ToList();
                    for (int i = 0; i < warmupRuns + runs; i++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        session.Run(runOptions, names, values, outputs).Dispose();
                    }
                }
                finally
                {
                    foreach (var v in values) v.Dispose();
                }
                profilePath = session.EndProfiling();
            }
            if (!Path.IsPathRooted(profilePath)) profilePath = Path.Combine(folder, Path.GetFileName(profilePath));
            long rows = inputs.Values.FirstOrDefault()?.Rows ?? 1;
            Onnx.Proto.GraphProto graph;
            using (var stream = File.OpenRead(Path.Combine(folder, "optimized.onnx"))) graph = Onnx.Proto.ModelProto.Parser.ParseFrom(stream).Graph;
            return RuntimeProfile.Parse(File.ReadAllText(profilePath), (int)rows, warmupRuns).WithGraph(graph);
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
