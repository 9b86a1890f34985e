// Oracle for engine/quant: runs llama.cpp's own ggml reference C on
// deterministic inputs and prints engine/quant/testdata/ggml_reference.json.
// Not part of the build (the go tool ignores testdata/). To regenerate, with
// a llama.cpp checkout in $R (ggml/ inside it) and no FMA contraction:
//
//   G=$R/ggml; F="-O2 -ffp-contract=off -I$G/include -I$G/src"
//   gcc $F -c $G/src/ggml-quants.c -o ggml-quants.o
//   gcc $F -DGGML_CPU_GENERIC -I$G/src/ggml-cpu -c $G/src/ggml-cpu/quants.c -o cpu-quants.o
//   gcc $F oracle.c ggml-quants.o cpu-quants.o -lm -o oracle
//   ./oracle > ../ggml_reference.json
//
// Generated from llama.cpp commit 80fb11ac73e66d89eae2c6a91d8a77428fa733ed.
// The F32/F16/BF16 dot products restate vec.cpp's scalar (non-SIMD) loop.
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include "ggml-impl.h"
#include "ggml-quants.h"

float ggml_table_f32_f16[1 << 16];
void ggml_abort(const char *file, int line, const char *fmt, ...) { fprintf(stderr, "abort %s:%d\n", file, line); abort(); }
size_t ggml_row_size(enum ggml_type t, int64_t ne) { abort(); }
const char *ggml_type_name(enum ggml_type t) { abort(); }
size_t ggml_type_size(enum ggml_type t) { abort(); }

#define VD(name) void name(int n, float *s, size_t bs, const void *vx, size_t bx, const void *vy, size_t by, int nrc)
VD(ggml_vec_dot_q4_0_q8_0); VD(ggml_vec_dot_q4_1_q8_1); VD(ggml_vec_dot_q5_0_q8_0); VD(ggml_vec_dot_q5_1_q8_1);
VD(ggml_vec_dot_q8_0_q8_0); VD(ggml_vec_dot_q2_K_q8_K); VD(ggml_vec_dot_q3_K_q8_K); VD(ggml_vec_dot_q4_K_q8_K);
VD(ggml_vec_dot_q5_K_q8_K); VD(ggml_vec_dot_q6_K_q8_K);

static uint64_t st = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) { uint64_t z = (st += 0x9E3779B97F4A7C15ull); z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull; z = (z ^ (z >> 27)) * 0x94D049BB133111EBull; return z ^ (z >> 31); }
static float unif(void) { return (float)((next() >> 40) * (1.0 / 16777216.0)); } // [0,1)

// --- sha256 (compact) ---
typedef struct { uint32_t h[8]; uint8_t buf[64]; uint64_t len; size_t n; } sha;
static const uint32_t K[64]={0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};
#define ROR(x,n) (((x)>>(n))|((x)<<(32-(n))))
static void blk(sha *s){uint32_t w[64],a,b,c,d,e,f,g,h;for(int i=0;i<16;i++)w[i]=(uint32_t)s->buf[4*i]<<24|(uint32_t)s->buf[4*i+1]<<16|(uint32_t)s->buf[4*i+2]<<8|s->buf[4*i+3];
for(int i=16;i<64;i++){uint32_t s0=ROR(w[i-15],7)^ROR(w[i-15],18)^(w[i-15]>>3),s1=ROR(w[i-2],17)^ROR(w[i-2],19)^(w[i-2]>>10);w[i]=w[i-16]+s0+w[i-7]+s1;}
a=s->h[0];b=s->h[1];c=s->h[2];d=s->h[3];e=s->h[4];f=s->h[5];g=s->h[6];h=s->h[7];
for(int i=0;i<64;i++){uint32_t S1=ROR(e,6)^ROR(e,11)^ROR(e,25),ch=(e&f)^(~e&g),t1=h+S1+ch+K[i]+w[i],S0=ROR(a,2)^ROR(a,13)^ROR(a,22),mj=(a&b)^(a&c)^(b&c),t2=S0+mj;h=g;g=f;f=e;e=d+t1;d=c;c=b;b=a;a=t1+t2;}
s->h[0]+=a;s->h[1]+=b;s->h[2]+=c;s->h[3]+=d;s->h[4]+=e;s->h[5]+=f;s->h[6]+=g;s->h[7]+=h;}
static void sinit(sha*s){static const uint32_t H[8]={0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19};memcpy(s->h,H,32);s->len=0;s->n=0;}
static void supd(sha*s,const void*p,size_t n){const uint8_t*b=p;for(size_t i=0;i<n;i++){s->buf[s->n++]=b[i];if(s->n==64){blk(s);s->n=0;}}s->len+=n;}
static void sfin(sha*s,char*out){uint64_t bits=s->len*8;uint8_t one=0x80,z=0;supd(s,&one,1);while(s->n!=56)supd(s,&z,1);uint8_t L[8];for(int i=0;i<8;i++)L[i]=bits>>(56-8*i);supd(s,L,8);for(int i=0;i<8;i++)sprintf(out+8*i,"%08x",s->h[i]);}

static void hex(const char *key, const void *p, size_t n, int comma) {
    const uint8_t *b = p; printf("\"%s\":\"", key); for (size_t i = 0; i < n; i++) printf("%02x", b[i]); printf("\"%s", comma ? "," : "");
}
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static uint16_t rscale(float max) { return GGML_FP32_TO_FP16(max * (0.5f + 0.5f * unif())); }
static void rbytes(uint8_t *p, size_t n) { for (size_t i = 0; i < n; i++) p[i] = (uint8_t)next(); }

typedef struct { const char *name; int bs, bb; } ti;

// fill one weight block with random quants and sane scales
static void wblock(const char *t, uint8_t *b, int bb) {
    rbytes(b, bb);
    if (!strcmp(t, "Q4_0")) put16(b, rscale(1.0f/8));
    else if (!strcmp(t, "Q4_1")) { put16(b, rscale(2.0f/15)); put16(b+2, GGML_FP32_TO_FP16(-(0.5f+unif()) * 7.5f * GGML_FP16_TO_FP32(*(uint16_t*)b))); }
    else if (!strcmp(t, "Q5_0")) put16(b, rscale(1.0f/16));
    else if (!strcmp(t, "Q5_1")) { put16(b, rscale(2.0f/31)); put16(b+2, GGML_FP32_TO_FP16(-(0.5f+unif()) * 15.5f * GGML_FP16_TO_FP32(*(uint16_t*)b))); }
    else if (!strcmp(t, "Q8_0")) { put16(b, rscale(1.0f/127)); for (int i = 2; i < 34; i++) if (b[i] == 0x80) b[i] = 0x81; }
    else if (!strcmp(t, "Q2_K")) { put16(b+80, rscale(1.0f/45)); put16(b+82, rscale(1.0f/15)); }
    else if (!strcmp(t, "Q3_K")) put16(b+108, rscale(1.0f/128));
    else if (!strcmp(t, "Q4_K")) { put16(b, rscale(1.0f/945)); put16(b+2, rscale(1.0f/63)); }
    else if (!strcmp(t, "Q5_K")) { put16(b, rscale(1.0f/1953)); put16(b+2, rscale(1.0f/63)); }
    else if (!strcmp(t, "Q6_K")) put16(b+208, rscale(1.0f/4096));
    else if (!strcmp(t, "F32")) { float f = 2*unif()-1; memcpy(b, &f, 4); }
    else if (!strcmp(t, "F16")) put16(b, GGML_FP32_TO_FP16(2*unif()-1));
    else if (!strcmp(t, "BF16")) { ggml_bf16_t h = GGML_FP32_TO_BF16(2*unif()-1); memcpy(b, &h, 2); }
}

// saturate pushes a weight block's quants towards their largest values, so
// that the integer sums grow large enough for float rounding order to show.
static void saturate(const char *t, uint8_t *b) {
    int lo = 0, hi = 0; uint8_t top = 0xFF;
    if (!strcmp(t, "Q4_0")) { lo = 2; hi = 18; }
    else if (!strcmp(t, "Q4_1")) { lo = 4; hi = 20; }
    else if (!strcmp(t, "Q5_0")) { lo = 2; hi = 22; }
    else if (!strcmp(t, "Q5_1")) { lo = 4; hi = 24; }
    else if (!strcmp(t, "Q8_0")) { lo = 2; hi = 34; top = 0x7F; }
    else if (!strcmp(t, "Q2_K")) { lo = 16; hi = 80; }
    else if (!strcmp(t, "Q3_K")) { lo = 0; hi = 96; }
    else if (!strcmp(t, "Q4_K")) { lo = 16; hi = 144; }
    else if (!strcmp(t, "Q5_K")) { lo = 16; hi = 176; }
    else if (!strcmp(t, "Q6_K")) { lo = 0; hi = 192; }
    for (int i = lo; i < hi; i++) b[i] = top ^ ((next() & 3) == 0 ? 1 : 0);
}

static void dequant(const char *t, const void *w, float *y, int n) {
    if (!strcmp(t, "Q4_0")) dequantize_row_q4_0(w, y, n);
    else if (!strcmp(t, "Q4_1")) dequantize_row_q4_1(w, y, n);
    else if (!strcmp(t, "Q5_0")) dequantize_row_q5_0(w, y, n);
    else if (!strcmp(t, "Q5_1")) dequantize_row_q5_1(w, y, n);
    else if (!strcmp(t, "Q8_0")) dequantize_row_q8_0(w, y, n);
    else if (!strcmp(t, "Q2_K")) dequantize_row_q2_K(w, y, n);
    else if (!strcmp(t, "Q3_K")) dequantize_row_q3_K(w, y, n);
    else if (!strcmp(t, "Q4_K")) dequantize_row_q4_K(w, y, n);
    else if (!strcmp(t, "Q5_K")) dequantize_row_q5_K(w, y, n);
    else if (!strcmp(t, "Q6_K")) dequantize_row_q6_K(w, y, n);
    else if (!strcmp(t, "F32")) memcpy(y, w, 4*n);
    else if (!strcmp(t, "F16")) for (int i = 0; i < n; i++) y[i] = GGML_FP16_TO_FP32(((const uint16_t*)w)[i]);
    else if (!strcmp(t, "BF16")) for (int i = 0; i < n; i++) y[i] = GGML_BF16_TO_FP32(((const ggml_bf16_t*)w)[i]);
}

// quantize x to the vec dot type of t; returns bytes
static size_t quantx(const char *t, const float *x, uint8_t *q, int n) {
    if (!strcmp(t, "Q4_0") || !strcmp(t, "Q5_0") || !strcmp(t, "Q8_0")) { quantize_row_q8_0_ref(x, (void*)q, n); return n/32*34; }
    if (!strcmp(t, "Q4_1") || !strcmp(t, "Q5_1")) { quantize_row_q8_1_ref(x, (void*)q, n); return n/32*36; }
    if (t[0] == 'Q') { quantize_row_q8_K_ref(x, (void*)q, n); return n/256*292; }
    if (!strcmp(t, "F32")) { memcpy(q, x, 4*n); return 4*n; }
    if (!strcmp(t, "F16")) { for (int i = 0; i < n; i++) put16(q+2*i, GGML_FP32_TO_FP16(x[i])); return 2*n; }
    for (int i = 0; i < n; i++) { ggml_bf16_t h = GGML_FP32_TO_BF16(x[i]); memcpy(q+2*i, &h, 2); } return 2*n;
}

static float dot(const char *t, int n, const void *w, const void *x) {
    float s = 0;
    if (!strcmp(t, "Q4_0")) ggml_vec_dot_q4_0_q8_0(n, &s, 0, w, 0, x, 0, 1);
    else if (!strcmp(t, "Q4_1")) ggml_vec_dot_q4_1_q8_1(n, &s, 0, w, 0, x, 0, 1);
    else if (!strcmp(t, "Q5_0")) ggml_vec_dot_q5_0_q8_0(n, &s, 0, w, 0, x, 0, 1);
    else if (!strcmp(t, "Q5_1")) ggml_vec_dot_q5_1_q8_1(n, &s, 0, w, 0, x, 0, 1);
    else if (!strcmp(t, "Q8_0")) ggml_vec_dot_q8_0_q8_0(n, &s, 0, w, 0, x, 0, 1);
    else if (!strcmp(t, "Q2_K")) ggml_vec_dot_q2_K_q8_K(n, &s, 0, w, 0, x, 0, 1);
    else if (!strcmp(t, "Q3_K")) ggml_vec_dot_q3_K_q8_K(n, &s, 0, w, 0, x, 0, 1);
    else if (!strcmp(t, "Q4_K")) ggml_vec_dot_q4_K_q8_K(n, &s, 0, w, 0, x, 0, 1);
    else if (!strcmp(t, "Q5_K")) ggml_vec_dot_q5_K_q8_K(n, &s, 0, w, 0, x, 0, 1);
    else if (!strcmp(t, "Q6_K")) ggml_vec_dot_q6_K_q8_K(n, &s, 0, w, 0, x, 0, 1);
    else { // scalar paths of ggml_vec_dot_f32/f16/bf16 (vec.cpp, no SIMD)
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float a, b;
            if (!strcmp(t, "F32")) { a = ((const float*)w)[i]; b = ((const float*)x)[i]; }
            else if (!strcmp(t, "F16")) { a = GGML_FP16_TO_FP32(((const uint16_t*)w)[i]); b = GGML_FP16_TO_FP32(((const uint16_t*)x)[i]); }
            else { a = GGML_BF16_TO_FP32(((const ggml_bf16_t*)w)[i]); b = GGML_BF16_TO_FP32(((const ggml_bf16_t*)x)[i]); }
            sum += (double)(a*b);
        }
        s = sum;
    }
    return s;
}

static void randx(float *x, int n, int flavor) {
    for (int i = 0; i < n; i++) {
        x[i] = 2*unif()-1;
        if (flavor == 1 && next() % 37 == 0) x[i] *= 40;           // outliers
        if (flavor == 2) x[i] *= 1e-3f;                            // small
        if (flavor == 3 && i < 256) x[i] = 0;                      // zero blocks
        if (flavor == 4) x[i] = (float)((int)(next() % 255) - 127) / 4.0f; // many exact halves
        if (flavor == 5) x[i] *= 3e4f;                             // large
        if (flavor == 6) x[i] *= 1e-6f;                            // scales in fp16 subnormal range
        if (flavor == 7) x[i] = 0.5f + 0.5f*unif();                // all positive, near the maximum
    }
}

int main(void) {
    for (int i = 0; i < 65536; i++) ggml_table_f32_f16[i] = ggml_compute_fp16_to_fp32((uint16_t)i);
    char h[65];
    sha s;
    printf("{\n\"about\":\"Outputs of llama.cpp's ggml reference C (ggml-quants.c, ggml-cpu/quants.c generic, vec.cpp scalar paths) on deterministic inputs; generated once, see quant_reference_test.go\",\n");
    sinit(&s); for (int i = 0; i < 65536; i++) { float f = GGML_FP16_TO_FP32((uint16_t)i); supd(&s, &f, 4); } sfin(&s, h);
    printf("\"fp16_to_fp32_sha256\":\"%s\",\n", h);
    const uint32_t stride = 4099;
    printf("\"fp32_stride\":%u,\n", stride);
    sinit(&s); for (uint64_t b = 0; b < (1ull<<32); b += stride) { uint32_t u = b; float f; memcpy(&f, &u, 4); uint16_t r = GGML_FP32_TO_FP16(f); supd(&s, &r, 2); } sfin(&s, h);
    printf("\"fp32_to_fp16_sha256\":\"%s\",\n", h);
    sinit(&s); for (uint64_t b = 0; b < (1ull<<32); b += stride) { uint32_t u = b; float f; memcpy(&f, &u, 4); ggml_bf16_t r = GGML_FP32_TO_BF16(f); supd(&s, &r, 2); } sfin(&s, h);
    printf("\"fp32_to_bf16_sha256\":\"%s\",\n", h);

    enum { N = 512 };
    float x[N], y[N]; uint8_t q[4*N];
    printf("\"quantize\":[\n");
    for (int flavor = 0; flavor < 7; flavor++) {
        randx(x, N, flavor);
        printf("{"); hex("x", x, sizeof x, 1);
        quantize_row_q8_0_ref(x, (void*)q, N); hex("Q8_0", q, N/32*34, 1);
        quantize_row_q8_1_ref(x, (void*)q, N); hex("Q8_1", q, N/32*36, 1);
        memset(q, 0, sizeof q);
        quantize_row_q8_K_ref(x, (void*)q, N); hex("Q8_K", q, N/256*292, 1);
        quantx("F16", x, q, N); hex("F16", q, 2*N, 1);
        quantx("BF16", x, q, N); hex("BF16", q, 2*N, 0);
        printf("}%s\n", flavor < 6 ? "," : "");
    }
    printf("],\n\"vecdot\":[\n");
    ti types[] = {{"F32",1,4},{"F16",1,2},{"BF16",1,2},{"Q4_0",32,18},{"Q4_1",32,20},{"Q5_0",32,22},{"Q5_1",32,24},{"Q8_0",32,34},
                  {"Q2_K",256,84},{"Q3_K",256,110},{"Q4_K",256,144},{"Q5_K",256,176},{"Q6_K",256,210}};
    int nt = sizeof types / sizeof types[0];
    uint8_t w[4*N];
    for (int ti_ = 0; ti_ < nt; ti_++) {
        for (int rep = 0; rep < 2; rep++) {
            const char *t = types[ti_].name;
            int n = N;
            for (int b = 0; b < n / types[ti_].bs; b++) wblock(t, w + b*types[ti_].bb, types[ti_].bb);
            size_t wb = (size_t)n / types[ti_].bs * types[ti_].bb;
            randx(x, n, rep == 1 ? 1 : 0);
            size_t xb = quantx(t, x, q, n);
            dequant(t, w, y, n);
            sinit(&s); supd(&s, y, 4*n); sfin(&s, h);
            float r = dot(t, n, w, q); uint32_t rb; memcpy(&rb, &r, 4);
            printf("{\"type\":\"%s\",\"n\":%d,", t, n); hex("w", w, wb, 1); hex("x", q, xb, 1);
            printf("\"dequant_sha256\":\"%s\",\"dot_bits\":%u,\"dot\":%.9g}%s\n", h, rb, r, (ti_ == nt-1 && rep == 1) ? "" : ",");
        }
    }
    // Bulk: many more cases, regenerated in Go from the same splitmix64
    // stream (see reference_test.go), so only the results are stored.
    enum { BULK = 256 };
    st = 20240601;
    printf("],\n\"bulk_seed\":20240601,\n\"bulk_cases\":%d,\n\"bulk\":{\n", BULK);
    static float bx[8*N], by_[8*N]; static uint8_t bw[4*8*N], bq[4*8*N];
    for (int ti_ = 0; ti_ < nt; ti_++) {
        const char *t = types[ti_].name;
        sha sw, sxq; sinit(&sw); sinit(&sxq);
        printf("\"%s\":{\"dot_bits\":[", t);
        for (int c = 0; c < BULK; c++) {
            int nb = 1 + c % 8, bs = types[ti_].bs;
            int n = bs == 1 ? 61 * nb : bs * nb;
            int sat = c % 5 == 4;
            for (int b = 0; b < n / bs; b++) {
                wblock(t, bw + b*types[ti_].bb, types[ti_].bb);
                if (sat) saturate(t, bw + b*types[ti_].bb);
            }
            randx(bx, n, sat ? 7 : c % 7);
            memset(bq, 0, sizeof bq); // ggml leaves an all-zero Q8_K block's bsums unset
            size_t xb = quantx(t, bx, bq, n);
            dequant(t, bw, by_, n);
            supd(&sw, by_, 4*n); supd(&sxq, bq, xb);
            float r = dot(t, n, bw, bq); uint32_t rb; memcpy(&rb, &r, 4);
            printf("%u%s", rb, c < BULK-1 ? "," : "");
        }
        sfin(&sw, h); printf("],\"dequant_sha256\":\"%s\",", h);
        sfin(&sxq, h); printf("\"x_sha256\":\"%s\"}%s\n", h, ti_ < nt-1 ? "," : "");
    }
    printf("}\n}\n");
    return 0;
}
