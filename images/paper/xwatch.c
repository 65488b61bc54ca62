/*
 * xwatch: the stopwatch of the paper's browser table (issue 14, Table 3;
 * xtask/src/paper/browser.rs). A host X client that takes its times from X
 * events instead of polling: MapNotify for a window being mapped,
 * PropertyNotify for its title, and the DAMAGE extension for drawing (a
 * damage object on the root window reports every change to the screen,
 * whichever client draws).
 *
 * It reads commands, one a line, on stdin and answers each with one line on
 * stdout. Times are milliseconds of CLOCK_MONOTONIC since the last `mark`.
 *
 *   mark              start the clock                       -> "ok"
 *   map CLASS         wait until a top-level window of WM_CLASS class CLASS
 *                     is mapped (or one already is)         -> "map 0xID MS"
 *   title 0xID TEXT   wait until the window's WM_NAME is TEXT -> "title MS"
 *   quiet MS          wait until nothing has been drawn for MS ms
 *                                     -> "quiet LAST" (LAST: the time of
 *                                        the last drawing since the mark, or
 *                                        -1 if nothing was drawn since)
 *
 *   timeout MS        how long a wait may last (120000 at first) -> "ok"
 *   shot FILE         write the root window as a binary PPM (P6) to FILE
 *                     (the arm64 machine has no xwd)   -> "shot W H"
 *
 * A wait that lasts longer than that answers "timeout". Build: gcc -O2
 * xwatch.c -o xwatch -lXdamage -lXfixes -lX11.
 */
#define _POSIX_C_SOURCE 200809L
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xdamage.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static Display *dpy;
static Window root;
static int damage_event;
static Damage damage;
static double t0;
static double last_draw = -1e18;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The window's WM_CLASS class is `cls`. */
static int has_class(Window w, const char *cls) {
    XClassHint h = {0};
    int yes = 0;
    if (XGetClassHint(dpy, w, &h)) {
        yes = h.res_class && strcmp(h.res_class, cls) == 0;
        XFree(h.res_name);
        XFree(h.res_class);
    }
    return yes;
}

static int viewable(Window w) {
    XWindowAttributes a;
    return XGetWindowAttributes(dpy, w, &a) && a.map_state == IsViewable;
}

/* Handles one event: drawing is recorded, and the damage reset so that the
 * next drawing reports again. Returns the event in *ev. */
static void next_event(XEvent *ev) {
    XNextEvent(dpy, ev);
    if (ev->type == damage_event + XDamageNotify) {
        last_draw = now_ms();
        XDamageSubtract(dpy, damage, None, None);
    }
}

/* Waits up to `ms` for an event; 0 if none came. */
static int wait_event(double ms) {
    if (XPending(dpy))
        return 1;
    struct pollfd p = {ConnectionNumber(dpy), POLLIN, 0};
    return poll(&p, 1, ms < 0 ? 0 : (int)ms) > 0;
}

static double TIMEOUT_MS = 120000;

static void cmd_map(const char *cls) {
    Window r, parent, *kids = NULL;
    unsigned n = 0;
    if (XQueryTree(dpy, root, &r, &parent, &kids, &n)) {
        for (unsigned i = 0; i < n; i++) {
            if (has_class(kids[i], cls) && viewable(kids[i])) {
                printf("map 0x%lx %.3f\n", kids[i], now_ms() - t0);
                XFree(kids);
                return;
            }
        }
        XFree(kids);
    }
    double end = now_ms() + TIMEOUT_MS;
    while (now_ms() < end) {
        if (!wait_event(end - now_ms()))
            continue;
        XEvent ev;
        next_event(&ev);
        if (ev.type == MapNotify && ev.xmap.event == root) {
            double t = now_ms() - t0;
            if (has_class(ev.xmap.window, cls)) {
                printf("map 0x%lx %.3f\n", ev.xmap.window, t);
                return;
            }
        }
    }
    printf("timeout\n");
}

static int title_is(Window w, const char *text) {
    char *name = NULL;
    int yes = 0;
    if (XFetchName(dpy, w, &name) && name) {
        yes = strcmp(name, text) == 0;
        XFree(name);
    }
    return yes;
}

static void cmd_title(Window w, const char *text) {
    XSelectInput(dpy, w, PropertyChangeMask);
    XSync(dpy, False);
    if (title_is(w, text)) {
        printf("title %.3f\n", now_ms() - t0);
        return;
    }
    double end = now_ms() + TIMEOUT_MS;
    while (now_ms() < end) {
        if (!wait_event(end - now_ms()))
            continue;
        XEvent ev;
        next_event(&ev);
        if (ev.type == PropertyNotify && ev.xproperty.window == w) {
            double t = now_ms() - t0;
            if (title_is(w, text)) {
                printf("title %.3f\n", t);
                return;
            }
        }
    }
    printf("timeout\n");
}

static void cmd_quiet(double quiet) {
    /* Damage the server has already queued for us is counted first. */
    XSync(dpy, False);
    double start = now_ms(), end = start + TIMEOUT_MS;
    while (now_ms() < end) {
        double since = now_ms() - (last_draw > start ? last_draw : start);
        if (since >= quiet)
            break;
        if (wait_event(quiet - since)) {
            XEvent ev;
            next_event(&ev);
        } else {
            /* Ask the server for anything still in flight before deciding. */
            XSync(dpy, False);
        }
    }
    if (now_ms() >= end)
        printf("timeout\n");
    else if (last_draw < t0)
        printf("quiet -1\n");
    else
        printf("quiet %.3f\n", last_draw - t0);
}

/* The channel `mask` selects in `pixel`, scaled to 0-255. */
static unsigned channel(unsigned long pixel, unsigned long mask) {
    if (!mask)
        return 0;
    int shift = 0;
    while (!((mask >> shift) & 1))
        shift++;
    unsigned long max = mask >> shift, v = (pixel & mask) >> shift;
    return (unsigned)(v * 255 / max);
}

static void cmd_shot(const char *file) {
    XWindowAttributes a;
    if (!XGetWindowAttributes(dpy, root, &a)) {
        printf("error: no root window attributes\n");
        return;
    }
    XImage *img = XGetImage(dpy, root, 0, 0, a.width, a.height, AllPlanes, ZPixmap);
    if (!img) {
        printf("error: XGetImage failed\n");
        return;
    }
    FILE *f = fopen(file, "wb");
    if (!f) {
        XDestroyImage(img);
        printf("error: cannot open %s\n", file);
        return;
    }
    fprintf(f, "P6\n%d %d\n255\n", a.width, a.height);
    for (int y = 0; y < a.height; y++)
        for (int x = 0; x < a.width; x++) {
            unsigned long p = XGetPixel(img, x, y);
            putc(channel(p, img->red_mask), f);
            putc(channel(p, img->green_mask), f);
            putc(channel(p, img->blue_mask), f);
        }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        printf("error: cannot write %s\n", file);
    else
        printf("shot %d %d\n", a.width, a.height);
    XDestroyImage(img);
}

int main(void) {
    dpy = XOpenDisplay(NULL);
    if (!dpy) {
        fprintf(stderr, "xwatch: cannot open display\n");
        return 1;
    }
    int err;
    if (!XDamageQueryExtension(dpy, &damage_event, &err)) {
        fprintf(stderr, "xwatch: the server has no DAMAGE extension\n");
        return 1;
    }
    root = DefaultRootWindow(dpy);
    XSelectInput(dpy, root, SubstructureNotifyMask);
    damage = XDamageCreate(dpy, root, XDamageReportNonEmpty);
    XSync(dpy, False);
    t0 = now_ms();
    setvbuf(stdout, NULL, _IOLBF, 0);
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        /* Events that came in meanwhile are taken first. */
        while (XPending(dpy)) {
            XEvent ev;
            next_event(&ev);
        }
        if (strcmp(line, "mark") == 0) {
            t0 = now_ms();
            printf("ok\n");
        } else if (strncmp(line, "timeout ", 8) == 0) {
            TIMEOUT_MS = atof(line + 8);
            printf("ok\n");
        } else if (strncmp(line, "map ", 4) == 0) {
            cmd_map(line + 4);
        } else if (strncmp(line, "title ", 6) == 0) {
            char *sp = strchr(line + 6, ' ');
            Window w = strtoul(line + 6, NULL, 0);
            cmd_title(w, sp ? sp + 1 : "");
        } else if (strncmp(line, "quiet ", 6) == 0) {
            cmd_quiet(atof(line + 6));
        } else if (strncmp(line, "shot ", 5) == 0) {
            cmd_shot(line + 5);
        } else {
            printf("error: unknown command '%s'\n", line);
        }
    }
    return 0;
}
