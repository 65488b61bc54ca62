/* xengine.c: an X drawing benchmark in the manner of xengine (not its code).
 *
 * It animates a rotating four-cylinder inline engine: the crankshaft (a
 * circle with its crank webs), four connecting rods, four pistons sliding in
 * their cylinders, drawn with Xlib lines, rectangles, arcs and polygons into
 * a Pixmap, which each frame copies to the window with XCopyArea (double
 * buffering). After each frame it waits for the server with XSync, as
 * xengine does, so a frame counts only once the server has drawn it.
 *
 * The crank turns 360/STEPS degrees per frame; revolutions per minute are
 * frames / STEPS / seconds * 60.
 *
 * Usage:
 *   xengine -t SECONDS     animate for SECONDS of wall time, then print
 *                          "frames N seconds S rpm R"
 *   xengine -n FRAMES      draw exactly FRAMES frames, read each frame back
 *                          with XGetImage and print "frames N checksum H"
 *                          (FNV-1a over every pixel of every frame): the same
 *                          output on every client of the same server
 *   -s SIZE                window size in pixels (default 400)
 * The display is $DISPLAY.
 *
 * Built statically (see xtask/src/paper/draw.rs):
 *   gcc -O2 -static -o xengine xengine.c -lX11 -lxcb -lXau -lXdmcp -lm
 */
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEPS 36 /* frames per revolution */
#define CYL 4

static int size = 400;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int px(double v) { return (int)lround(v); }

struct gcs {
    GC bg, block, bore, crank, rod, piston, ring;
};

static GC mkgc(Display *d, Drawable w, unsigned long fg, int width)
{
    XGCValues v;
    v.foreground = fg;
    v.line_width = width;
    v.cap_style = CapRound;
    v.join_style = JoinRound;
    return XCreateGC(d, w, GCForeground | GCLineWidth | GCCapStyle | GCJoinStyle, &v);
}

static unsigned long colour(Display *d, int scr, const char *name, unsigned long dflt)
{
    XColor c, exact;
    if (XAllocNamedColor(d, DefaultColormap(d, scr), name, &c, &exact))
        return c.pixel;
    return dflt;
}

/* One frame at crank step `step` into drawable `p`. */
static void draw(Display *d, Drawable p, struct gcs *g, int step)
{
    double s = size / 400.0;
    double crank_r = 28 * s;          /* crank throw */
    double rod_l = 95 * s;            /* connecting rod length */
    double axis_y = 300 * s;          /* crankshaft axis */
    double pitch = 80 * s;            /* cylinder spacing */
    double x0 = 200 * s - 1.5 * pitch;
    double bore_w = 56 * s, piston_h = 34 * s;
    double a = 2 * M_PI * step / STEPS;
    int i;

    XFillRectangle(d, p, g->bg, 0, 0, size, size);
    /* The block: one outline around the four bores. */
    XDrawRectangle(d, p, g->block, px(x0 - pitch / 2), px(axis_y - crank_r - rod_l - piston_h - 20 * s),
                   px(4 * pitch), px(rod_l + piston_h + 2 * crank_r + 40 * s));
    /* The main shaft. */
    XDrawLine(d, p, g->crank, px(x0 - pitch / 2), px(axis_y), px(x0 + 3.5 * pitch), px(axis_y));
    for (i = 0; i < CYL; i++) {
        /* Inline four: pins 1 and 4 at 0 degrees, 2 and 3 at 180. */
        double th = a + ((i == 1 || i == 2) ? M_PI : 0);
        double cx = x0 + i * pitch;
        double pin_x = cx + crank_r * sin(th);
        double pin_y = axis_y - crank_r * cos(th);
        double dy = sqrt(rod_l * rod_l - (pin_x - cx) * (pin_x - cx));
        double wrist_y = pin_y - dy;
        double top = axis_y - crank_r - rod_l - piston_h - 10 * s;
        XPoint bore[4] = {
            {px(cx - bore_w / 2 - 3), px(top)},
            {px(cx - bore_w / 2 - 3), px(axis_y - crank_r - 10 * s)},
            {px(cx + bore_w / 2 + 3), px(axis_y - crank_r - 10 * s)},
            {px(cx + bore_w / 2 + 3), px(top)},
        };
        XPoint piston[5] = {
            {px(cx - bore_w / 2), px(wrist_y - piston_h + 8 * s)},
            {px(cx + bore_w / 2), px(wrist_y - piston_h + 8 * s)},
            {px(cx + bore_w / 2), px(wrist_y + 8 * s)},
            {px(cx - bore_w / 2), px(wrist_y + 8 * s)},
            {px(cx - bore_w / 2), px(wrist_y - piston_h + 8 * s)},
        };
        /* Cylinder walls, the piston and its rings. */
        XDrawLines(d, p, g->bore, bore, 4, CoordModeOrigin);
        XFillPolygon(d, p, g->piston, piston, 4, Convex, CoordModeOrigin);
        XDrawLines(d, p, g->block, piston, 5, CoordModeOrigin);
        XDrawLine(d, p, g->ring, px(cx - bore_w / 2), px(wrist_y - piston_h + 14 * s),
                  px(cx + bore_w / 2), px(wrist_y - piston_h + 14 * s));
        XDrawLine(d, p, g->ring, px(cx - bore_w / 2), px(wrist_y - piston_h + 19 * s),
                  px(cx + bore_w / 2), px(wrist_y - piston_h + 19 * s));
        /* The crank web and its counterweight, then the rod. */
        {
            double wx = -cos(th), wy = -sin(th); /* unit normal to the throw */
            XPoint web[4] = {
                {px(cx + 12 * s * wx), px(axis_y + 12 * s * wy)},
                {px(pin_x + 8 * s * wx), px(pin_y + 8 * s * wy)},
                {px(pin_x - 8 * s * wx), px(pin_y - 8 * s * wy)},
                {px(cx - 12 * s * wx), px(axis_y - 12 * s * wy)},
            };
            XFillPolygon(d, p, g->crank, web, 4, Convex, CoordModeOrigin);
        }
        XFillArc(d, p, g->crank, px(cx - crank_r * sin(th) - 16 * s), px(axis_y + crank_r * cos(th) - 16 * s),
                 px(32 * s), px(32 * s), 0, 360 * 64);
        XDrawLine(d, p, g->rod, px(pin_x), px(pin_y), px(cx), px(wrist_y));
        XDrawArc(d, p, g->block, px(pin_x - 6 * s), px(pin_y - 6 * s), px(12 * s), px(12 * s), 0, 360 * 64);
        XDrawArc(d, p, g->block, px(cx - 5 * s), px(wrist_y - 5 * s), px(10 * s), px(10 * s), 0, 360 * 64);
    }
}

/* FNV-1a over the pixels of `p`. */
static uint64_t checksum(Display *d, Drawable p, uint64_t h)
{
    XImage *im = XGetImage(d, p, 0, 0, size, size, AllPlanes, ZPixmap);
    int x, y;
    if (!im) {
        fprintf(stderr, "xengine: XGetImage failed\n");
        exit(1);
    }
    for (y = 0; y < size; y++)
        for (x = 0; x < size; x++) {
            unsigned long v = XGetPixel(im, x, y);
            int k;
            for (k = 0; k < 4; k++) {
                h ^= (v >> (8 * k)) & 0xff;
                h *= 1099511628211ULL;
            }
        }
    XDestroyImage(im);
    return h;
}

int main(int argc, char **argv)
{
    double seconds = 0;
    long frames_wanted = 0;
    int i;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            frames_wanted = atol(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            size = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: xengine -t SECONDS | -n FRAMES [-s SIZE]\n");
            return 2;
        }
    }
    if ((seconds <= 0) == (frames_wanted <= 0) || size < 64 || size > 4096) {
        fprintf(stderr, "usage: xengine -t SECONDS | -n FRAMES [-s SIZE]\n");
        return 2;
    }

    Display *d = XOpenDisplay(NULL);
    if (!d) {
        fprintf(stderr, "xengine: cannot open display '%s'\n", XDisplayName(NULL));
        return 1;
    }
    int scr = DefaultScreen(d);
    unsigned long black = BlackPixel(d, scr), white = WhitePixel(d, scr);
    Window w = XCreateSimpleWindow(d, RootWindow(d, scr), 0, 0, size, size, 0, black, black);
    XStoreName(d, w, "xengine");
    XSelectInput(d, w, ExposureMask | StructureNotifyMask);
    XMapWindow(d, w);
    for (;;) {
        XEvent ev;
        XNextEvent(d, &ev);
        if (ev.type == Expose)
            break;
    }
    Pixmap pm = XCreatePixmap(d, w, size, size, DefaultDepth(d, scr));
    GC copy = XCreateGC(d, w, 0, NULL);
    struct gcs g;
    g.bg = mkgc(d, pm, colour(d, scr, "midnight blue", black), 1);
    g.block = mkgc(d, pm, colour(d, scr, "light gray", white), 1);
    g.bore = mkgc(d, pm, colour(d, scr, "gray60", white), 3);
    g.crank = mkgc(d, pm, colour(d, scr, "dark orange", white), 6);
    g.rod = mkgc(d, pm, colour(d, scr, "light steel blue", white), 7);
    g.piston = mkgc(d, pm, colour(d, scr, "gray40", white), 1);
    g.ring = mkgc(d, pm, colour(d, scr, "black", black), 1);

    long frames = 0;
    uint64_t h = 1469598103934665603ULL;
    double t0 = now(), t = t0;
    for (;;) {
        draw(d, pm, &g, (int)(frames % STEPS));
        XCopyArea(d, pm, w, copy, 0, 0, size, size, 0, 0);
        XSync(d, False);
        frames++;
        if (frames_wanted) {
            h = checksum(d, w, h);
            if (frames == frames_wanted)
                break;
        } else {
            t = now();
            if (t - t0 >= seconds)
                break;
        }
    }
    if (frames_wanted)
        printf("frames %ld checksum %016llx\n", frames, (unsigned long long)h);
    else
        printf("frames %ld seconds %.3f rpm %.1f\n", frames, t - t0,
               frames / (double)STEPS / (t - t0) * 60.0);
    XCloseDisplay(d);
    return 0;
}
