"""Kernels written as LLVM IR through numba's ``intrinsic``, for what numba's
autovectoriser does poorly.

- ``padded_product`` and ``padded_residual``: CG's passes over a row's
  gathered factor rows. numba kept the k-long accumulator in memory (it may
  alias the rows being read) and reduced every dot product on its own: 3.2 ns
  per gathered row at k = 64 on the development machine. These hold their
  accumulators in vector registers and keep eight FMA chains in flight:
  2.0-2.5 ns.
- ``padded_times``: a rows x small-matrix product (the eigenbasis rotations)
  with a 4-row x 4-vector tile of the output in registers, at about the
  matrix-multiply peak.
- ``prefetch_row``: a cache hint for the index-driven gathers.
- ``half_row_to`` and ``half_bits``: exact float16 -> float32 widening and
  round-to-nearest-even narrowing, in integer operations (no F16C or runtime
  library needed), for gathers from a float16 copy of the fixed side.

The two passes also read rows kept as float16 bits (uint16), widening each
vector as it is loaded (F16C's one instruction where the target has it,
else the integer widening): the same sums of the same values as over the
widened rows, from half the bytes. A uint16 row then holds as many elements
as ``v`` (a multiple of the float vector's lanes), not 64 bytes' worth.

The passes work on *padded* arrays: every row of ``rows``, and ``v``, ``out``
and ``diag``, have a length that is a multiple of the vector width (64 bytes:
16 float32 or 8 float64 lanes), with zeros in the padding. Zero padding keeps
the padding of the outputs zero for finite data, so the callers never mask a
tail.

Rows are handled in blocks of ``BLOCK``: the block's projections ``d = U v``
first (eight rows at a time, one accumulator each), then ``out += U^T d`` while
the block is still in L1, with the output in registers a tile of ``TILE``
vectors at a time (two accumulator sets, even and odd rows). Every sum runs in
a fixed order, so results do not depend on threads or timing.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

VECTOR_BYTES = 64  # one AVX-512 register; LLVM splits it on narrower machines
TILE = 4  # vectors of the output held in registers while a block is added back
BLOCK = 32  # rows projected, then added back while they are in L1
PROJECTED_TOGETHER = 8  # rows per projection pass: eight independent FMA chains
CACHE_LINE = 64


def padded_width(k: int, itemsize: int) -> int:
    """The row length, in elements, of a padded buffer for ``k`` columns."""
    lanes = VECTOR_BYTES // itemsize
    return -(-k // lanes) * lanes


class _Vectors:
    """IR helpers for one element type: loads, stores, FMA and reductions."""

    def __init__(self, context, builder, dtype):
        self.builder = builder
        self.element = context.get_value_type(dtype)
        self.itemsize = dtype.bitwidth // 8
        self.lanes = VECTOR_BYTES // self.itemsize
        self.vector = ir.VectorType(self.element, self.lanes)
        self.index_type = ir.IntType(64)
        name = f"llvm.fma.v{self.lanes}f{dtype.bitwidth}"
        signature = ir.FunctionType(self.vector, [self.vector] * 3)
        self._fma = cgutils.get_or_insert_function(builder.module, signature, name)

    def const(self, value: int):
        return ir.Constant(self.index_type, value)

    def zero(self):
        return ir.Constant(self.vector, [0.0] * self.lanes)

    def _address(self, base, offset):
        return self.builder.bitcast(self.builder.gep(base, [offset]), self.vector.as_pointer())

    def load(self, base, offset):
        return self.builder.load(self._address(base, offset), align=self.itemsize)

    def store(self, value, base, offset):
        self.builder.store(value, self._address(base, offset), align=self.itemsize)

    def fma(self, a, b, c):
        """a * b + c with one rounding (vfmadd on x86)."""
        return self.builder.call(self._fma, [a, b, c])

    def _shuffle(self, a, b, mask):
        mask_type = ir.VectorType(ir.IntType(32), len(mask))
        return self.builder.shuffle_vector(a, b, ir.Constant(mask_type, list(mask)))

    def splat(self, scalar):
        first = self.builder.insert_element(
            ir.Constant(self.vector, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0)
        )
        return self._shuffle(first, first, [0] * self.lanes)

    def sums_of_four(self, a0, a1, a2, a3):
        """The horizontal sums of four vectors, sharing the shuffles of a transpose."""
        add = self.builder.fadd
        lanes, half, quarter = self.lanes, self.lanes // 2, self.lanes // 4
        low = list(range(half)) + list(range(lanes, lanes + half))
        high = [j + half for j in low]
        pair_01 = add(self._shuffle(a0, a1, low), self._shuffle(a0, a1, high))
        pair_23 = add(self._shuffle(a2, a3, low), self._shuffle(a2, a3, high))
        # each pair holds two groups of `half` lanes; halve every group again
        low = list(range(quarter)) + list(range(half, half + quarter))
        low = low + [lanes + j for j in low]
        high = [j + quarter for j in low]
        groups = add(self._shuffle(pair_01, pair_23, low), self._shuffle(pair_01, pair_23, high))
        step = quarter // 2  # four groups of `quarter` lanes: fold each onto its first lane
        while step >= 1:
            groups = add(groups, self._shuffle(groups, groups, [j ^ step for j in range(lanes)]))
            step //= 2
        return [
            self.builder.extract_element(groups, ir.Constant(ir.IntType(32), r * quarter))
            for r in range(4)
        ]


def _check_types(name, rows, vectors, half_rows=False):
    """Refuse what the IR below does not handle; uint16 rows (float16 bits) where
    ``half_rows`` allows them, with float32 or float64 vectors."""
    if not (isinstance(rows, types.Array) and rows.ndim == 2 and rows.layout == "C"):
        raise TypingError(f"{name}: rows must be a C-contiguous 2-D array, got {rows}")
    allowed = (types.float32, types.float64) + ((types.uint16,) if half_rows else ())
    if rows.dtype not in allowed:
        raise TypingError(f"{name}: rows must be one of {allowed}, got {rows.dtype}")
    element = rows.dtype
    if rows.dtype == types.uint16:
        element = vectors[0].dtype if vectors else types.float32
        if element not in (types.float32, types.float64):
            raise TypingError(f"{name}: float16 rows need float vectors, got {element}")
    for vector in vectors:
        is_vector = isinstance(vector, types.Array) and vector.ndim == 1
        if not (is_vector and vector.dtype == element):
            raise TypingError(f"{name}: expected 1-D {element} arrays, got {vector}")


def _has_f16c(context) -> bool:
    """Whether the code is compiled for a CPU with F16C (one instruction per vector
    of float16 -> float32 conversions); numba's feature string, '' for a generic CPU."""
    return "+f16c" in getattr(context.codegen(), "_tm_features", "")


def _row_loader(context, builder, rows_type, vec):
    """load(rows_ptr, offset) -> one vector of ``vec``'s floats from a padded row.

    float rows are loaded as they are; uint16 rows (float16 bits) are widened
    exactly, by F16C where the target has it, else by integer operations
    (float64 vectors: float16 has no more digits than float32, so exactly too).
    """
    if rows_type.dtype != types.uint16:
        return vec.load
    bits_type = ir.VectorType(ir.IntType(16), vec.lanes)
    half_type = ir.VectorType(ir.HalfType(), vec.lanes)
    f16c = _has_f16c(context)

    def load(base, offset):
        address = builder.bitcast(builder.gep(base, [offset]), bits_type.as_pointer())
        bits = builder.load(address, align=2)
        if f16c:
            return builder.fpext(builder.bitcast(bits, half_type), vec.vector)
        singles = _half_to_single(builder, bits)
        return singles if vec.element == ir.FloatType() else builder.fpext(singles, vec.vector)

    return load


def _row_pass(residual: bool):
    """Codegen of :func:`padded_product` (``residual=False``) or :func:`padded_residual`."""

    def codegen(context, builder, signature, args):
        b = builder
        if residual:
            rows_type, _, weight_type, coef_type, v_type, out_type, diag_type = signature.args
            rows_value, count, weight_value, coef_value, v_value, out_value, diag_value = args
        else:
            rows_type, _, weight_type, v_type, out_type = signature.args
            rows_value, count, weight_value, v_value, out_value = args
        vec = _Vectors(context, builder, v_type.dtype)
        load_row = _row_loader(context, builder, rows_type, vec)
        row_itemsize = rows_type.dtype.bitwidth // 8

        def data(array_type, value):
            return context.make_array(array_type)(context, builder, value).data

        rows = context.make_array(rows_type)(context, builder, rows_value)
        row_length = b.udiv(cgutils.unpack_tuple(b, rows.strides, 2)[0], vec.const(row_itemsize))
        n_vectors = b.udiv(cgutils.unpack_tuple(b, rows.shape, 2)[1], vec.const(vec.lanes))
        rows_ptr = rows.data
        weight_ptr = data(weight_type, weight_value)
        v_ptr, out_ptr = data(v_type, v_value), data(out_type, out_value)
        if residual:
            coef_ptr, diag_ptr = data(coef_type, coef_value), data(diag_type, diag_value)
        count = context.cast(builder, count, signature.args[1], types.int64)
        projected = cgutils.alloca_once(b, vec.element, size=BLOCK)
        # fixed-size accumulators that LLVM promotes to registers
        accumulators = [cgutils.alloca_once(b, vec.vector) for _ in range(4 * TILE)]

        def accumulate(slot, a, c):
            b.store(vec.fma(a, c, b.load(accumulators[slot])), accumulators[slot])

        def coefficient(row, dot):
            """What each row adds back: w v.u, or c p - w x.u for the residual."""
            scaled = b.fmul(b.load(b.gep(weight_ptr, [row])), dot)
            if residual:
                return b.fsub(b.load(b.gep(coef_ptr, [row])), scaled)
            return scaled

        def project(first, n_together, block_start):
            """projected[row - block_start] for rows first .. first + n_together - 1."""
            offsets = [b.mul(b.add(first, vec.const(r)), row_length) for r in range(n_together)]
            for r in range(n_together):
                b.store(vec.zero(), accumulators[r])
            with cgutils.for_range(b, n_vectors) as column:
                col = b.mul(column.index, vec.const(vec.lanes))
                v_part = vec.load(v_ptr, col)
                for r in range(n_together):
                    accumulate(r, load_row(rows_ptr, b.add(offsets[r], col)), v_part)
            sums = [b.load(accumulators[r]) for r in range(n_together)]
            sums += [vec.zero()] * (-n_together % 4)
            dots = []
            for r in range(0, len(sums), 4):
                dots += vec.sums_of_four(*sums[r : r + 4])
            for r in range(n_together):
                row = b.add(first, vec.const(r))
                b.store(coefficient(row, dots[r]), b.gep(projected, [b.sub(row, block_start)]))

        def add_back(block_start, size, tile_start, width):
            """out (and diag) += the block's rows times their coefficients, one tile."""
            columns = [b.add(tile_start, vec.const(j * vec.lanes)) for j in range(width)]
            n_sets = 4 if residual else 2  # out even/odd rows, then diag even/odd rows
            for j in range(width):
                for s in range(n_sets):
                    b.store(vec.zero(), accumulators[s * TILE + j])

            def add_row(local, parity):
                offset = b.mul(b.add(block_start, local), row_length)
                scale = vec.splat(b.load(b.gep(projected, [local])))
                if residual:
                    w = vec.splat(b.load(b.gep(weight_ptr, [b.add(block_start, local)])))
                for j in range(width):
                    u = load_row(rows_ptr, b.add(offset, columns[j]))
                    accumulate(parity * TILE + j, scale, u)
                    if residual:
                        accumulate((2 + parity) * TILE + j, b.fmul(w, u), u)

            pairs = b.udiv(size, vec.const(2))
            with cgutils.for_range(b, pairs) as pair:
                local = b.mul(pair.index, vec.const(2))
                add_row(local, 0)
                add_row(b.add(local, vec.const(1)), 1)
            with b.if_then(b.icmp_signed("!=", b.mul(pairs, vec.const(2)), size)):
                add_row(b.sub(size, vec.const(1)), 0)
            targets = [out_ptr, diag_ptr] if residual else [out_ptr]
            for t, target in enumerate(targets):
                for j in range(width):
                    even = b.load(accumulators[2 * t * TILE + j])
                    odd = b.load(accumulators[(2 * t + 1) * TILE + j])
                    total = b.fadd(vec.load(target, columns[j]), b.fadd(even, odd))
                    vec.store(total, target, columns[j])

        n_blocks = b.udiv(b.add(count, vec.const(BLOCK - 1)), vec.const(BLOCK))
        with cgutils.for_range(b, n_blocks) as block:
            block_start = b.mul(block.index, vec.const(BLOCK))
            left = b.sub(count, block_start)
            size = b.select(b.icmp_signed(">", left, vec.const(BLOCK)), vec.const(BLOCK), left)
            groups = b.udiv(size, vec.const(PROJECTED_TOGETHER))
            with cgutils.for_range(b, groups) as group:
                first = b.add(block_start, b.mul(group.index, vec.const(PROJECTED_TOGETHER)))
                project(first, PROJECTED_TOGETHER, block_start)
            done = b.mul(groups, vec.const(PROJECTED_TOGETHER))
            with cgutils.for_range(b, b.sub(size, done)) as rest:
                project(b.add(block_start, b.add(done, rest.index)), 1, block_start)
            full_tiles = b.udiv(n_vectors, vec.const(TILE))
            with cgutils.for_range(b, full_tiles) as tile:
                add_back(block_start, size, b.mul(tile.index, vec.const(TILE * vec.lanes)), TILE)
            last_width = b.urem(n_vectors, vec.const(TILE))
            last_start = b.mul(full_tiles, vec.const(TILE * vec.lanes))
            for width in range(1, TILE):
                with b.if_then(b.icmp_signed("==", last_width, vec.const(width))):
                    add_back(block_start, size, last_start, width)
        return context.get_dummy_value()

    return codegen


@intrinsic
def padded_product(typingctx, rows, count, weight, v, out):
    """``out += U^T (weight * (U v))`` for ``U = rows[:count]``: one CG product.

    ``rows``, ``v`` and ``out`` are padded (see the module docstring);
    ``weight`` has at least ``count`` entries. ``rows`` may hold float16 bits
    (uint16), as many per row as ``v`` has elements, for float32 or float64
    vectors: the same sums of the same widened values.
    """
    _check_types("padded_product", rows, (weight, v, out), half_rows=True)
    return types.void(rows, count, weight, v, out), _row_pass(residual=False)


@intrinsic
def padded_residual(typingctx, rows, count, weight, coef, v, out, diag):
    """``out += U^T (coef - weight * (U v))`` and ``diag += (U * U)^T weight``.

    The sparse parts of the residual b - A v and of diag(A) in one pass over
    ``U = rows[:count]``; arrays padded, and ``rows`` float or float16 bits, as
    for :func:`padded_product`.
    """
    _check_types("padded_residual", rows, (weight, coef, v, out, diag), half_rows=True)
    return types.void(rows, count, weight, coef, v, out, diag), _row_pass(residual=True)


@intrinsic
def prefetch_row(typingctx, matrix, row):
    """Ask the cache to start loading ``matrix[row]`` (a hint: no effect on results)."""
    if not (isinstance(matrix, types.Array) and matrix.ndim == 2):
        raise TypingError(f"prefetch_row: matrix must be a 2-D array, got {matrix}")
    contiguous = matrix.layout == "C"

    def codegen(context, builder, signature, args):
        if not contiguous:  # a hint only: strided rows get none
            return context.get_dummy_value()
        b = builder
        array = context.make_array(signature.args[0])(context, builder, args[0])
        row = context.cast(builder, args[1], signature.args[1], types.int64)
        row_bytes = cgutils.unpack_tuple(b, array.strides, 2)[0]
        byte_pointer, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        start = b.gep(b.bitcast(array.data, byte_pointer), [b.mul(row, row_bytes)])
        signature = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
        prefetch = cgutils.get_or_insert_function(b.module, signature, "llvm.prefetch.p0")
        # read (0), keep in every cache level (3), data cache (1)
        hints = [ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        line = ir.Constant(row_bytes.type, CACHE_LINE)
        n_lines = b.udiv(b.add(row_bytes, ir.Constant(row_bytes.type, CACHE_LINE - 1)), line)
        with cgutils.for_range(b, n_lines) as i:
            b.call(prefetch, [b.gep(start, [b.mul(i.index, line)]), *hints])
        return context.get_dummy_value()

    return types.void(matrix, row), codegen


@intrinsic
def padded_times(typingctx, rows, small, out):
    """``out = rows @ small``, with ``out``'s row tiles held in vector registers.

    ``rows`` has a multiple of four rows; ``small`` and ``out`` have padded
    rows (see the module docstring). Every output row is summed over ``j`` in
    order with the same instructions, so its bits do not depend on where it
    sits in ``rows``.
    """
    _check_types("padded_times", rows, ())
    _check_types("padded_times", small, ())
    _check_types("padded_times", out, ())
    if not rows.dtype == small.dtype == out.dtype:
        raise TypingError("padded_times: rows, small and out must share a dtype")

    def codegen(context, builder, signature, args):
        b = builder
        vec = _Vectors(context, builder, signature.args[0].dtype)
        rows, small, out = (
            context.make_array(t)(context, builder, v)
            for t, v in zip(signature.args, args, strict=True)
        )

        def shape_and_length(array):
            shape = cgutils.unpack_tuple(b, array.shape, 2)
            stride = cgutils.unpack_tuple(b, array.strides, 2)[0]
            return shape, b.udiv(stride, vec.const(vec.itemsize))

        (n_rows, k), rows_length = shape_and_length(rows)
        _, small_length = shape_and_length(small)
        (_, width), out_length = shape_and_length(out)
        n_vectors = b.udiv(width, vec.const(vec.lanes))
        accumulators = [cgutils.alloca_once(b, vec.vector) for _ in range(4 * TILE)]

        def tile(first_row, tile_start, n_tile):
            columns = [b.add(tile_start, vec.const(t * vec.lanes)) for t in range(n_tile)]
            for r in range(4):
                for t in range(n_tile):
                    b.store(vec.zero(), accumulators[r * TILE + t])
            row_offsets = [b.mul(b.add(first_row, vec.const(r)), rows_length) for r in range(4)]
            with cgutils.for_range(b, k) as j:
                small_row = b.mul(j.index, small_length)
                parts = [vec.load(small.data, b.add(small_row, c)) for c in columns]
                for r in range(4):
                    value = vec.splat(b.load(b.gep(rows.data, [b.add(row_offsets[r], j.index)])))
                    for t in range(n_tile):
                        slot = accumulators[r * TILE + t]
                        b.store(vec.fma(value, parts[t], b.load(slot)), slot)
            for r in range(4):
                out_row = b.mul(b.add(first_row, vec.const(r)), out_length)
                for t in range(n_tile):
                    total = b.load(accumulators[r * TILE + t])
                    vec.store(total, out.data, b.add(out_row, columns[t]))

        with cgutils.for_range(b, b.udiv(n_rows, vec.const(4))) as group:
            first_row = b.mul(group.index, vec.const(4))
            full_tiles = b.udiv(n_vectors, vec.const(TILE))
            with cgutils.for_range(b, full_tiles) as t:
                tile(first_row, b.mul(t.index, vec.const(TILE * vec.lanes)), TILE)
            last_width = b.urem(n_vectors, vec.const(TILE))
            last_start = b.mul(full_tiles, vec.const(TILE * vec.lanes))
            for n_tile in range(1, TILE):
                with b.if_then(b.icmp_signed("==", last_width, vec.const(n_tile))):
                    tile(first_row, last_start, n_tile)
        return context.get_dummy_value()

    return types.void(rows, small, out), codegen


def _same_shape(type_, element):
    """``element`` as a scalar, or as a vector with as many lanes as ``type_``."""
    return ir.VectorType(element, type_.count) if isinstance(type_, ir.VectorType) else element


def _constant(type_, value):
    """``value`` in every lane of an integer or float scalar or vector type."""
    if isinstance(type_, ir.VectorType):
        return ir.Constant(type_, [value] * type_.count)
    return ir.Constant(type_, value)


def _half_to_single(b, bits):
    """float32 from IEEE half bits (i16 or a vector of them), exactly.

    Integer operations plus one exact subtraction for subnormals (F. Giesen's
    method), so no F16C instruction and no runtime library is needed.
    """
    word = _same_shape(bits.type, ir.IntType(32))
    single = _same_shape(bits.type, ir.FloatType())

    def c(value):
        return _constant(word, value)

    half = b.zext(bits, word)
    out = b.shl(b.and_(half, c(0x7FFF)), c(13))  # exponent and mantissa in place
    exponent = b.and_(out, c(0x7C00 << 13))
    out = b.add(out, c((127 - 15) << 23))  # rebias
    special = b.icmp_unsigned("==", exponent, c(0x7C00 << 13))  # inf or NaN
    out = b.select(special, b.add(out, c((128 - 16) << 23)), out)
    # zero or subnormal: one more exponent step, then remove the implicit bit exactly
    magic = b.bitcast(c(113 << 23), single)
    renormalised = b.fsub(b.bitcast(b.add(out, c(1 << 23)), single), magic)
    small = b.icmp_unsigned("==", exponent, c(0))
    out = b.select(small, b.bitcast(renormalised, word), out)
    out = b.or_(out, b.shl(b.and_(half, c(0x8000)), c(16)))  # sign
    return b.bitcast(out, single)


def _single_to_half(b, value):
    """IEEE half bits (i16) of a float32 scalar, rounded to nearest even.

    Integer operations plus one float addition for subnormals (F. Giesen's
    method); beyond the range it gives infinity, NaN gives a quiet NaN.
    """
    word = ir.IntType(32)

    def c(number):
        return ir.Constant(word, number)

    bits = b.bitcast(value, word)
    sign = b.and_(bits, c(0x80000000))
    magnitude = b.xor(bits, sign)
    # inf, NaN, or at least 2^16 (which rounds to inf)
    beyond = b.icmp_unsigned(">=", magnitude, c((127 + 16) << 23))
    not_a_number = b.icmp_unsigned(">", magnitude, c(255 << 23))
    special = b.select(not_a_number, c(0x7E00), c(0x7C00))
    # subnormal or zero: align the 10 mantissa bits at the bottom by one addition
    magic = c(((127 - 15) + (23 - 10) + 1) << 23)
    added = b.fadd(b.bitcast(magnitude, ir.FloatType()), b.bitcast(magic, ir.FloatType()))
    subnormal = b.sub(b.bitcast(added, word), magic)
    # normal: rebias and round to nearest even through the carry
    odd = b.and_(b.lshr(magnitude, c(13)), c(1))
    normal = b.lshr(b.add(b.add(magnitude, c(((15 - 127) << 23) + 0xFFF)), odd), c(13))
    finite = b.select(b.icmp_unsigned("<", magnitude, c(113 << 23)), subnormal, normal)
    out = b.or_(b.select(beyond, special, finite), b.lshr(sign, c(16)))
    return b.trunc(out, ir.IntType(16))


@intrinsic
def half_row_to(typingctx, source, row, dest, t):
    """``dest[t] = source[row]`` widened exactly from IEEE half bits (uint16 ``source``),
    or copied as bits into a uint16 ``dest``.

    ``dest``'s padded row length is a multiple of the vector width and at
    most ``source``'s; a row of ``source`` is read up to that length.
    """
    if not (
        isinstance(source, types.Array)
        and source.ndim == 2
        and source.layout == "C"
        and source.dtype == types.uint16
    ):
        raise TypingError(f"half_row_to: source must be 2-D C uint16 (float16 bits), got {source}")
    _check_types("half_row_to", dest, (), half_rows=True)
    copy_bits = dest.dtype == types.uint16

    def codegen(context, builder, signature, args):
        b = builder
        source_type, _, dest_type, _ = signature.args
        vec = _Vectors(context, builder, types.float32 if copy_bits else dest_type.dtype)
        source_array = context.make_array(source_type)(context, builder, args[0])
        dest_array = context.make_array(dest_type)(context, builder, args[2])
        row = context.cast(builder, args[1], signature.args[1], types.int64)
        t = context.cast(builder, args[3], signature.args[3], types.int64)
        width = cgutils.unpack_tuple(b, dest_array.shape, 2)[1]
        source_length = b.udiv(cgutils.unpack_tuple(b, source_array.strides, 2)[0], vec.const(2))
        source_start = b.gep(source_array.data, [b.mul(row, source_length)])
        dest_start = b.mul(t, width)
        bits_type = ir.VectorType(ir.IntType(16), vec.lanes)
        with cgutils.for_range(b, b.udiv(width, vec.const(vec.lanes))) as part:
            col = b.mul(part.index, vec.const(vec.lanes))
            address = b.bitcast(b.gep(source_start, [col]), bits_type.as_pointer())
            bits = b.load(address, align=2)
            if copy_bits:
                target = b.gep(dest_array.data, [b.add(dest_start, col)])
                b.store(bits, b.bitcast(target, bits_type.as_pointer()), align=2)
            else:
                values = _half_to_single(b, bits)
                if vec.element != ir.FloatType():
                    values = b.fpext(values, vec.vector)
                vec.store(values, dest_array.data, b.add(dest_start, col))
        return context.get_dummy_value()

    return types.void(source, row, dest, t), codegen


@intrinsic
def half_bits(typingctx, value):
    """The IEEE half-precision bits (uint16) of ``value``, rounded to nearest even.

    Beyond float16's range the result is infinite; callers check the range. A
    float64 is rounded to float32 first (twice rounded: callers only round
    float32 factors).
    """
    if value not in (types.float32, types.float64):
        raise TypingError(f"half_bits: expected a float32 or float64 value, got {value}")

    def codegen(context, builder, signature, args):
        value = args[0]
        if signature.args[0] == types.float64:
            value = builder.fptrunc(value, ir.FloatType())
        return _single_to_half(builder, value)

    return types.uint16(value), codegen
