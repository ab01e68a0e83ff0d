using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Eagle.AI.Engine.Tests.Runtime;

/// <summary>
/// Reads TorchSharp.dll's IL and names, as documentation ids (the form BannedSymbols.txt takes), every public method
/// that reaches a .NET-number → Scalar conversion inside TorchSharp, directly or through other TorchSharp methods.
/// Such a method makes a temporary native Scalar that nothing keeps alive across its P/Invoke.
/// </summary>
internal static class TemporaryScalarScan
{
    public static IReadOnlyList<string> PublicMethodsMakingTemporaryScalars(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var callees = new Dictionary<MethodDefinitionHandle, List<MethodDefinitionHandle>>();
        var hazardous = new HashSet<MethodDefinitionHandle>();

        foreach (var handle in md.MethodDefinitions)
        {
            var method = md.GetMethodDefinition(handle);
            var calls = callees[handle] = [];
            if (method.RelativeVirtualAddress == 0) continue;
            string owner = md.GetString(md.GetTypeDefinition(method.GetDeclaringType()).Name);
            var il = pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader();
            while (il.RemainingBytes > 0)
            {
                int op = il.ReadByte();
                if (op == 0xFE) op = 0xFE00 | il.ReadByte();
                if (op is 0x28 or 0x6F or 0x73)                                    // call, callvirt, newobj
                {
                    var target = MetadataTokens.EntityHandle(il.ReadInt32());
                    if (MakesScalar(md, target) && owner is not ("Scalar" or "ScalarExtensionMethods")) hazardous.Add(handle);
                    if (Definition(md, target) is { } d) calls.Add(d);
                }
                else if (op == 0x45)                                                // switch: a count, then that many targets
                {
                    int targets = il.ReadInt32();
                    il.Offset += 4 * targets;
                }
                else il.Offset += OperandSize(op);
            }
        }

        for (bool grew = true; grew;)                                             // callers of hazardous methods are hazardous
        {
            grew = false;
            foreach (var (method, calls) in callees)
                if (!hazardous.Contains(method) && calls.Exists(hazardous.Contains)) grew = hazardous.Add(method) || grew;
        }

        var ids = new List<string>();
        foreach (var handle in hazardous)
        {
            var method = md.GetMethodDefinition(handle);
            if ((method.Attributes & MethodAttributes.MemberAccessMask) != MethodAttributes.Public || !IsPublic(md, method.GetDeclaringType())) continue;
            var signature = method.DecodeSignature(new DocumentationIds(), null);
            string name = md.GetString(method.Name).Replace('.', '#');
            string parameters = signature.ParameterTypes.IsEmpty ? "" : "(" + string.Join(",", signature.ParameterTypes) + ")";
            string conversion = name is "op_Implicit" or "op_Explicit" ? "~" + signature.ReturnType : "";
            ids.Add($"M:{DocumentationIds.TypeName(md, method.GetDeclaringType())}.{name}{parameters}{conversion}");
        }
        ids.Sort(StringComparer.Ordinal);
        return ids;
    }

    private static bool MakesScalar(MetadataReader md, EntityHandle target)
    {
        string name = target.Kind switch
        {
            HandleKind.MethodDefinition => Name(md, md.GetMethodDefinition((MethodDefinitionHandle)target)),
            HandleKind.MemberReference => md.GetString(md.GetMemberReference((MemberReferenceHandle)target).Name),
            _ => "",
        };
        return name.StartsWith("Scalar::op_Implicit", StringComparison.Ordinal) || name.StartsWith("ScalarExtensionMethods::To", StringComparison.Ordinal);
    }

    private static string Name(MetadataReader md, MethodDefinition m) =>
        md.GetString(md.GetTypeDefinition(m.GetDeclaringType()).Name) + "::" + md.GetString(m.Name);

    private static MethodDefinitionHandle? Definition(MetadataReader md, EntityHandle target) => target.Kind switch
    {
        HandleKind.MethodDefinition => (MethodDefinitionHandle)target,
        HandleKind.MethodSpecification => Definition(md, md.GetMethodSpecification((MethodSpecificationHandle)target).Method),
        _ => null,
    };

    private static bool IsPublic(MetadataReader md, TypeDefinitionHandle type)
    {
        var t = md.GetTypeDefinition(type);
        var visibility = t.Attributes & TypeAttributes.VisibilityMask;
        if (t.GetDeclaringType().IsNil) return visibility == TypeAttributes.Public;
        return visibility == TypeAttributes.NestedPublic && IsPublic(md, t.GetDeclaringType());
    }

    private static readonly Dictionary<int, int> OperandSizes = typeof(OpCodes).GetFields()
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => (int)(ushort)o.Value, o => o.OperandType switch
        {
            OperandType.InlineNone => 0,
            OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
            OperandType.InlineVar => 2,
            OperandType.InlineI8 or OperandType.InlineR => 8,
            _ => 4,
        });

    private static int OperandSize(int op) => OperandSizes[op];

    /// <summary>Types as documentation ids spell them: <c>System.Nullable{TorchSharp.torch.ScalarType}</c>, <c>System.Int64[]</c>.</summary>
    private sealed class DocumentationIds : ISignatureTypeProvider<string, object?>
    {
        public static string TypeName(MetadataReader md, TypeDefinitionHandle handle)
        {
            var t = md.GetTypeDefinition(handle);
            string name = WithoutArity(md.GetString(t.Name));
            if (!t.GetDeclaringType().IsNil) return TypeName(md, t.GetDeclaringType()) + "." + name;
            string ns = md.GetString(t.Namespace);
            return ns.Length > 0 ? ns + "." + name : name;
        }

        private static string WithoutArity(string name) => name.IndexOf('`') is var i and >= 0 ? name[..i] : name;

        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[" + new string(',', shape.Rank - 1) + "]";
        public string GetByReferenceType(string elementType) => elementType + "@";
        public string GetFunctionPointerType(MethodSignature<string> signature) => "=FUNC";
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => genericType + "{" + string.Join(",", typeArguments) + "}";
        public string GetGenericMethodParameter(object? context, int index) => "``" + index;
        public string GetGenericTypeParameter(object? context, int index) => "`" + index;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetPinnedType(string elementType) => elementType;
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => "System." + typeCode;
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => TypeName(reader, handle);
        public string GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) => "?";

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind)
        {
            var t = reader.GetTypeReference(handle);
            string name = WithoutArity(reader.GetString(t.Name));
            if (t.ResolutionScope.Kind == HandleKind.TypeReference) return GetTypeFromReference(reader, (TypeReferenceHandle)t.ResolutionScope, rawTypeKind) + "." + name;
            string ns = reader.GetString(t.Namespace);
            return ns.Length > 0 ? ns + "." + name : name;
        }
    }
}
