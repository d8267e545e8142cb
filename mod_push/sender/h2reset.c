/*
 * Keeps libcurl from resetting HTTP/2 streams that are already closed.
 *
 * libcurl before 8.0 (Debian 12's 7.88 among them) forgets, once a response has been read
 * to its end, that the stream was closed, and sends RST_STREAM (STREAM_CLOSED) for every
 * finished request; 8.0.0 no longer does (curl commit 544a7f8). configure builds this file
 * only for a libcurl older than 8.0 (PUSH_H2RESET; --enable-h2reset forces it).
 * The frame is harmless by itself, but HTTP/2 servers count incoming resets since the
 * "rapid reset" attack (CVE-2023-44487): nghttp2-based servers, Node among them, end
 * the connection with GOAWAY once about a thousand have arrived in a burst. A sender
 * that keeps hundreds of requests in flight then loses its connection every thousand
 * notifications, and the requests the server had taken but not yet answered come back
 * as failures, to be sent again.
 *
 * In the sender process only, the entry of libcurl's own relocation table through which
 * it calls nghttp2_submit_rst_stream is pointed at the filter below, which calls on to
 * libnghttp2's function (resolved by name first). No symbol is interposed: where
 * libnghttp2 sits in httpd's lookup scope (mod_http2 loaded before or after mod_push)
 * does not matter, and httpd's children, which may use nghttp2 through mod_http2, are
 * not touched. A reset is dropped only when all of these hold:
 *   - its code is STREAM_CLOSED, the code libcurl uses when it is done with a stream;
 *   - nghttp2 no longer knows the stream, i.e. the stream is closed: nghttp2 frees a
 *     client stream when it closes;
 *   - the stream is not a request still waiting to be sent. nghttp2 accepts stream user
 *     data for such a request (and only for it), so setting it to NULL tells the two
 *     apart; libcurl is done with the request and would clear it anyway. A waiting
 *     request is reset as asked: that is how nghttp2 cancels it.
 * Everything else goes to libnghttp2 unchanged. A libcurl without the bug never asks
 * to reset a closed stream, so the filter then has nothing to do (libcurl 8.14 with
 * --enable-h2reset: 0 dropped over t/sender_h2.t's 6,000 requests).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sender/internal.h"

/* The few declarations of nghttp2's public API used here (nghttp2/nghttp2.h). */
typedef struct nghttp2_session nghttp2_session;
typedef struct nghttp2_stream nghttp2_stream;
#define PUSH_NGHTTP2_STREAM_CLOSED 0x5

typedef int (*rst_fn)(nghttp2_session *, uint8_t, int32_t, uint32_t);
typedef nghttp2_stream *(*find_fn)(nghttp2_session *, int32_t);
typedef int (*setud_fn)(nghttp2_session *, int32_t, void *);

static rst_fn real_rst;
static find_fn real_find;
static setud_fn real_setud;
static volatile apr_uint32_t dropped;

static int filter_rst(nghttp2_session *session, uint8_t flags, int32_t stream_id, uint32_t error_code)
{
    if (error_code == PUSH_NGHTTP2_STREAM_CLOSED && stream_id > 0 && real_find(session, stream_id) == NULL
        && real_setud(session, stream_id, NULL) != 0) {
        apr_atomic_inc32(&dropped);
        return 0;
    }
    return real_rst(session, flags, stream_id, error_code);
}

/* The relocations that bind a symbol to a slot: a PLT slot or a GOT entry. Others are
 * not looked at; an architecture not named here keeps libcurl as it is (PUSH0608). */
#if defined(__x86_64__) && defined(__LP64__)
#define SLOT_RELOC(t) ((t) == R_X86_64_JUMP_SLOT || (t) == R_X86_64_GLOB_DAT)
#elif defined(__aarch64__) && defined(__LP64__)
#define SLOT_RELOC(t) ((t) == R_AARCH64_JUMP_SLOT || (t) == R_AARCH64_GLOB_DAT)
#endif

#ifdef SLOT_RELOC
typedef struct {
    int patched;                  /* slots pointed at the filter */
    int failed;
} patch_t;

/* A dynamic-section address: ld.so has made most absolute already; not all do. */
static uintptr_t dyn_addr(const struct dl_phdr_info *info, ElfW(Addr) v)
{
    return v < info->dlpi_addr ? info->dlpi_addr + v : v;
}

static void patch_slot(const struct dl_phdr_info *info, void **slot, patch_t *pt)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)slot & ~((uintptr_t)page - 1);
    int relro = 0;
    /* a slot in the RELRO segment is read-only once ld.so is done: it is made writable
     * for the store and read-only again */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_GNU_RELRO && (uintptr_t)slot >= lo && (uintptr_t)slot < lo + ph->p_memsz)
            relro = 1;
    }
    if (*slot == (void *)filter_rst)
        return;
    if (relro && mprotect((void *)start, (size_t)page, PROT_READ | PROT_WRITE) != 0) {
        pt->failed++;
        return;
    }
    *slot = (void *)filter_rst;
    if (relro)
        mprotect((void *)start, (size_t)page, PROT_READ);
    pt->patched++;
}

static int patch_object(struct dl_phdr_info *info, size_t size, void *data)
{
    patch_t *pt = data;
    const ElfW(Dyn) *dyn = NULL;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const ElfW(Rela) *rel[2] = {NULL, NULL};
    size_t relsz[2] = {0, 0};
    (void)size;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libcurl"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn)
        return 0;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        switch (dyn->d_tag) {
        case DT_SYMTAB: symtab = (const ElfW(Sym) *)dyn_addr(info, dyn->d_un.d_ptr); break;
        case DT_STRTAB: strtab = (const char *)dyn_addr(info, dyn->d_un.d_ptr); break;
        case DT_JMPREL: rel[0] = (const ElfW(Rela) *)dyn_addr(info, dyn->d_un.d_ptr); break;
        case DT_PLTRELSZ: relsz[0] = dyn->d_un.d_val; break;
        case DT_RELA: rel[1] = (const ElfW(Rela) *)dyn_addr(info, dyn->d_un.d_ptr); break;
        case DT_RELASZ: relsz[1] = dyn->d_un.d_val; break;
        case DT_PLTREL:
            if (dyn->d_un.d_val != DT_RELA)
                return 0;   /* REL tables: not on the architectures above */
            break;
        default: break;
        }
    }
    if (!symtab || !strtab)
        return 0;
    for (int t = 0; t < 2; t++)
        for (size_t k = 0; rel[t] && k < relsz[t] / sizeof(ElfW(Rela)); k++) {
            const ElfW(Rela) *r = &rel[t][k];
            size_t s = ELF64_R_SYM(r->r_info);
            if (s == 0 || !SLOT_RELOC(ELF64_R_TYPE(r->r_info)) ||
                strcmp(strtab + symtab[s].st_name, "nghttp2_submit_rst_stream") != 0)
                continue;
            patch_slot(info, (void **)(info->dlpi_addr + r->r_offset), pt);
        }
    return 0;
}
#endif

int push_h2reset_enable(void)
{
#ifdef SLOT_RELOC
    patch_t pt = {0, 0};
    /* the one definition in httpd's lookup scope: libnghttp2's, which libcurl's slots
     * were bound to (mod_push defines none). Resolved before any slot points here. */
    real_rst = (rst_fn)dlsym(RTLD_DEFAULT, "nghttp2_submit_rst_stream");
    real_find = (find_fn)dlsym(RTLD_DEFAULT, "nghttp2_session_find_stream");
    real_setud = (setud_fn)dlsym(RTLD_DEFAULT, "nghttp2_session_set_stream_user_data");
    if (!real_rst || !real_find || !real_setud)
        return 0;
    dl_iterate_phdr(patch_object, &pt);
    return pt.patched > 0 && !pt.failed;
#else
    return 0;
#endif
}

apr_uint32_t push_h2reset_dropped(void)
{
    return apr_atomic_read32(&dropped);
}
