using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EvoQuant.Numerics;

// Narrowing stores and widening loads per storage type. Values handed to Store are already saturated,
// so plain truncating narrows (VPMOVDB, VPMOVDW, or the generic Narrow) are exact.
// The 512- and 256-bit paths use x86 instructions when present; the generic fallbacks keep ARM working.
// The 128-bit loads read 4 elements through scalar reads so nothing past the span is touched.

internal readonly struct SByteStorage : IQuantStorage<sbyte>
{
    public static sbyte FromInt(int value) => (sbyte)value;
    public static int ToInt(sbyte value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<int> v, ref sbyte d)
    {
        var b = Vector128.Narrow(Vector128.Narrow(v, v), Vector128<short>.Zero);
        Unsafe.WriteUnaligned(ref Unsafe.As<sbyte, byte>(ref d), b.AsInt32().ToScalar());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<int> v, ref sbyte d)
    {
        long bits = Avx512F.VL.IsSupported
            ? Avx512F.VL.ConvertToVector128SByte(v).AsInt64().ToScalar()
            : Vector256.Narrow(Vector256.Narrow(v, v), Vector256<short>.Zero).AsInt64().ToScalar();
        Unsafe.WriteUnaligned(ref Unsafe.As<sbyte, byte>(ref d), bits);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<int> v, ref sbyte d)
    {
        var b = Avx512F.IsSupported
            ? Avx512F.ConvertToVector128SByte(v)
            : Vector512.Narrow(Vector512.Narrow(v, v), Vector512<short>.Zero).GetLower().GetLower();
        b.StoreUnsafe(ref d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Load128(ref sbyte s)
    {
        var b = Vector128.CreateScalar(Unsafe.ReadUnaligned<int>(ref Unsafe.As<sbyte, byte>(ref s))).AsSByte();
        return Vector128.WidenLower(Vector128.WidenLower(b));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Load256(ref sbyte s)
    {
        var b = Vector128.CreateScalar(Unsafe.ReadUnaligned<long>(ref Unsafe.As<sbyte, byte>(ref s))).AsSByte();
        if (Avx2.IsSupported) return Avx2.ConvertToVector256Int32(b);
        var w = Vector128.WidenLower(b);
        return Vector256.Create(Vector128.WidenLower(w), Vector128.WidenUpper(w));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Load512(ref sbyte s)
    {
        var b = Vector128.LoadUnsafe(ref s);
        if (Avx512F.IsSupported) return Avx512F.ConvertToVector512Int32(b);
        var lo = Vector128.WidenLower(b);
        var hi = Vector128.WidenUpper(b);
        return Vector512.Create(
            Vector256.Create(Vector128.WidenLower(lo), Vector128.WidenUpper(lo)),
            Vector256.Create(Vector128.WidenLower(hi), Vector128.WidenUpper(hi)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreNonTemporal(Vector512<int> a, Vector512<int> b, Vector512<int> c, Vector512<int> d, sbyte* p)
    {
        var lo = Vector256.Create(Avx512F.ConvertToVector128SByte(a), Avx512F.ConvertToVector128SByte(b));
        var hi = Vector256.Create(Avx512F.ConvertToVector128SByte(c), Avx512F.ConvertToVector128SByte(d));
        Avx512F.StoreAlignedNonTemporal(p, Vector512.Create(lo, hi));
    }
}

internal readonly struct ByteStorage : IQuantStorage<byte>
{
    public static byte FromInt(int value) => (byte)value;
    public static int ToInt(byte value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<int> v, ref byte d) => SByteStorage.Store(v, ref Unsafe.As<byte, sbyte>(ref d));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<int> v, ref byte d) => SByteStorage.Store(v, ref Unsafe.As<byte, sbyte>(ref d));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<int> v, ref byte d) => SByteStorage.Store(v, ref Unsafe.As<byte, sbyte>(ref d));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Load128(ref byte s)
    {
        var b = Vector128.CreateScalar(Unsafe.ReadUnaligned<int>(ref s)).AsByte();
        return Vector128.WidenLower(Vector128.WidenLower(b)).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Load256(ref byte s)
    {
        var b = Vector128.CreateScalar(Unsafe.ReadUnaligned<long>(ref s)).AsByte();
        if (Avx2.IsSupported) return Avx2.ConvertToVector256Int32(b);
        var w = Vector128.WidenLower(b);
        return Vector256.Create(Vector128.WidenLower(w), Vector128.WidenUpper(w)).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Load512(ref byte s)
    {
        var b = Vector128.LoadUnsafe(ref s);
        if (Avx512F.IsSupported) return Avx512F.ConvertToVector512Int32(b);
        var lo = Vector128.WidenLower(b);
        var hi = Vector128.WidenUpper(b);
        return Vector512.Create(
            Vector256.Create(Vector128.WidenLower(lo), Vector128.WidenUpper(lo)),
            Vector256.Create(Vector128.WidenLower(hi), Vector128.WidenUpper(hi))).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreNonTemporal(Vector512<int> a, Vector512<int> b, Vector512<int> c, Vector512<int> d, byte* p)
        => SByteStorage.StoreNonTemporal(a, b, c, d, (sbyte*)p);
}

internal readonly struct Int16Storage : IQuantStorage<short>
{
    public static short FromInt(int value) => (short)value;
    public static int ToInt(short value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<int> v, ref short d)
    {
        long bits = Vector128.Narrow(v, v).AsInt64().ToScalar();
        Unsafe.WriteUnaligned(ref Unsafe.As<short, byte>(ref d), bits);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<int> v, ref short d)
    {
        var s = Avx512F.VL.IsSupported ? Avx512F.VL.ConvertToVector128Int16(v) : Vector256.Narrow(v, v).GetLower();
        s.StoreUnsafe(ref d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<int> v, ref short d)
    {
        var s = Avx512F.IsSupported ? Avx512F.ConvertToVector256Int16(v) : Vector512.Narrow(v, v).GetLower();
        s.StoreUnsafe(ref d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Load128(ref short s)
    {
        var w = Vector128.CreateScalar(Unsafe.ReadUnaligned<long>(ref Unsafe.As<short, byte>(ref s))).AsInt16();
        return Vector128.WidenLower(w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Load256(ref short s)
    {
        var w = Vector128.LoadUnsafe(ref s);
        return Avx2.IsSupported ? Avx2.ConvertToVector256Int32(w) : Vector256.Create(Vector128.WidenLower(w), Vector128.WidenUpper(w));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Load512(ref short s)
    {
        var w = Vector256.LoadUnsafe(ref s);
        return Avx512F.IsSupported ? Avx512F.ConvertToVector512Int32(w) : Vector512.Create(Vector256.WidenLower(w), Vector256.WidenUpper(w));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreNonTemporal(Vector512<int> a, Vector512<int> b, Vector512<int> c, Vector512<int> d, short* p)
    {
        Avx512F.StoreAlignedNonTemporal(p, Vector512.Create(Avx512F.ConvertToVector256Int16(a), Avx512F.ConvertToVector256Int16(b)));
        Avx512F.StoreAlignedNonTemporal(p + 32, Vector512.Create(Avx512F.ConvertToVector256Int16(c), Avx512F.ConvertToVector256Int16(d)));
    }
}

internal readonly struct UInt16Storage : IQuantStorage<ushort>
{
    public static ushort FromInt(int value) => (ushort)value;
    public static int ToInt(ushort value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<int> v, ref ushort d) => Int16Storage.Store(v, ref Unsafe.As<ushort, short>(ref d));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<int> v, ref ushort d) => Int16Storage.Store(v, ref Unsafe.As<ushort, short>(ref d));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<int> v, ref ushort d) => Int16Storage.Store(v, ref Unsafe.As<ushort, short>(ref d));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Load128(ref ushort s)
    {
        var w = Vector128.CreateScalar(Unsafe.ReadUnaligned<long>(ref Unsafe.As<ushort, byte>(ref s))).AsUInt16();
        return Vector128.WidenLower(w).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Load256(ref ushort s)
    {
        var w = Vector128.LoadUnsafe(ref s);
        return Avx2.IsSupported ? Avx2.ConvertToVector256Int32(w) : Vector256.Create(Vector128.WidenLower(w), Vector128.WidenUpper(w)).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Load512(ref ushort s)
    {
        var w = Vector256.LoadUnsafe(ref s);
        return Avx512F.IsSupported ? Avx512F.ConvertToVector512Int32(w) : Vector512.Create(Vector256.WidenLower(w), Vector256.WidenUpper(w)).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreNonTemporal(Vector512<int> a, Vector512<int> b, Vector512<int> c, Vector512<int> d, ushort* p)
        => Int16Storage.StoreNonTemporal(a, b, c, d, (short*)p);
}

internal readonly struct Int32Storage : IQuantStorage<int>
{
    public static int FromInt(int value) => value;
    public static int ToInt(int value) => value;
    public static void Store(Vector128<int> v, ref int d) => v.StoreUnsafe(ref d);
    public static void Store(Vector256<int> v, ref int d) => v.StoreUnsafe(ref d);
    public static void Store(Vector512<int> v, ref int d) => v.StoreUnsafe(ref d);
    public static Vector128<int> Load128(ref int s) => Vector128.LoadUnsafe(ref s);
    public static Vector256<int> Load256(ref int s) => Vector256.LoadUnsafe(ref s);
    public static Vector512<int> Load512(ref int s) => Vector512.LoadUnsafe(ref s);

    public static unsafe void StoreNonTemporal(Vector512<int> a, Vector512<int> b, Vector512<int> c, Vector512<int> d, int* p)
    {
        Avx512F.StoreAlignedNonTemporal(p, a);
        Avx512F.StoreAlignedNonTemporal(p + 16, b);
        Avx512F.StoreAlignedNonTemporal(p + 32, c);
        Avx512F.StoreAlignedNonTemporal(p + 48, d);
    }
}
