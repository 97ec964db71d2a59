"""The CPU kernels' tuning constants in one place: tile widths, task sizes, cache budgets. Each
is a size chosen for the cache and register file of the x86-64 machines the kernels target
(16 float32 lanes per vector, 32 vector registers, a 48 KB L1d); docs/performance.md gives the
measurements that chose them."""

#: batch tile widths, widest first; the batch is covered by the widest, the rest by the next
#: (an 8-column tile steps with 256-bit vectors, so a batch of 8 is not padded to 16)
TILES = (64, 16, 8)
#: accumulator vectors one register block may hold (half of AVX-512's 32 registers)
ACC_VECTORS = 16
#: bytes a vector step's operands are aligned to (one cache line: a 64-byte load from a
#: 16-byte-aligned array straddles two lines)
ALIGN = 64
#: stored entries a weight stream is prefetched ahead: 2 KB of float32 values
PREFETCH = 512
#: output rows one parallel task of the CSR and N:M products handles
ROWS_PER_TASK = 64
#: block rows one task of BCSR's vector product handles
SPMV_BLOCK_ROWS = 16
#: row groups one parallel task of the GS product handles
GROUPS_PER_TASK = 8
#: widest run of lanes GS's vector product gathers at once (four 16-lane vectors): lcm(B, 16)
#: must fit
GATHER_RUN = 64
#: bytes of x in one column panel: two thirds of a 48 KB L1d, the rest left to the weights
PANEL_BYTES = 32 * 1024
#: output rows of one panel task: its partial sums (64 x 64 float32 = 16 KB) beside one panel
#: of x fill the L1
TASK = 64
#: rows a panel task steps together: 4 rows x 4 vectors of a 64-column tile = 16 accumulator
#: registers
GROUP = 4
#: output positions of one run of the direct convolution (:mod:`.direct`): a row's run is four
#: 16-lane vectors, a group of GROUP rows 16 accumulators
DIRECT_TILE = 64
#: row groups one parallel job of the direct convolution steps through for one run
DIRECT_GROUPS = 8
#: input sizes a kernel keeps a direct-convolution plan for (a plan holds the weight's entries
#: again, as offsets into the padded input)
DIRECT_SIZES = 4
#: bytes of patches a convolution on patches gathers before multiplying them, so that a step's
#: patches are still cached when the product reads them: of 256 KB, 1 MB and 4 MB, 4 MB was the
#: fastest or level on five 3 x 3 layers of ocr-crnn's shapes (32-512 channels, 1 and 16 images)
PATCH_BYTES = 4 << 20
