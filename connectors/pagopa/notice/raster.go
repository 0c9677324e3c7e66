package notice

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Rasterize draws the pages of ns as images at dpi dots per inch, from the
// same drawing operations the PDF is written from, in pure Go: a preview, and
// what the golden tests compare. Rectangles (and so the QR codes and data
// matrices) are exact: a pixel is dark when its centre is inside one. Text is
// set in the Go fonts at the PDF's positions and sizes; the PDF uses
// Helvetica and Courier, so glyph shapes differ slightly from a PDF viewer's.
func Rasterize(ns []Notice, dpi float64) ([]*image.RGBA, error) {
	for i, n := range ns {
		if err := n.Validate(); err != nil {
			return nil, fmt.Errorf("notice %d: %w", i, err)
		}
	}
	d, err := layout(ns)
	if err != nil {
		return nil, err
	}
	var out []*image.RGBA
	for p := range d.pages {
		img, err := d.raster(p, dpi, image.Rect(0, 0, px(pageW, dpi), px(pageH, dpi)), true)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

func px(mm, dpi float64) int { return int(math.Round(mm * dpi / 25.4)) }

// raster draws page p at dpi into an image covering bounds (in pixels of the
// whole page), with or without text.
func (d *doc) raster(p int, dpi float64, bounds image.Rectangle, withText bool) (*image.RGBA, error) {
	img := image.NewRGBA(bounds)
	draw.Draw(img, bounds, image.White, image.Point{}, draw.Src)
	s := dpi / 25.4
	for _, o := range d.pages[p] {
		c := color.RGBA{o.color[0], o.color[1], o.color[2], 255}
		switch o.kind {
		case opRect:
			// Pixels whose centre is inside [x, x+w) × [y, y+h).
			x0, y0 := int(math.Ceil(o.x*s-0.5)), int(math.Ceil(o.y*s-0.5))
			x1, y1 := int(math.Ceil((o.x+o.w)*s-0.5)), int(math.Ceil((o.y+o.h)*s-0.5))
			r := image.Rect(x0, y0, x1, y1).Intersect(bounds)
			draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
		case opText:
			if !withText {
				continue
			}
			face, err := rasterFace(o.font, o.size, dpi)
			if err != nil {
				return nil, err
			}
			dr := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face,
				Dot: fixed.Point26_6{X: fixed.Int26_6(math.Round(o.x * s * 64)), Y: fixed.Int26_6(math.Round(o.y * s * 64))}}
			dr.DrawString(o.text)
		}
	}
	return img, nil
}

var (
	fontsOnce sync.Once
	fonts     map[fontID]*opentype.Font
	fontsErr  error
	facesMu   sync.Mutex
	faces     = map[[3]float64]font.Face{}
)

func rasterFace(f fontID, size, dpi float64) (font.Face, error) {
	fontsOnce.Do(func() {
		fonts = map[fontID]*opentype.Font{}
		for id, ttf := range map[fontID][]byte{fRegular: goregular.TTF, fBold: gobold.TTF, fMono: gomonobold.TTF} {
			ft, err := opentype.Parse(ttf)
			if err != nil {
				fontsErr = err
				return
			}
			fonts[id] = ft
		}
	})
	if fontsErr != nil {
		return nil, fontsErr
	}
	facesMu.Lock()
	defer facesMu.Unlock()
	key := [3]float64{float64(f), size, dpi}
	if fc, ok := faces[key]; ok {
		return fc, nil
	}
	fc, err := opentype.NewFace(fonts[f], &opentype.FaceOptions{Size: size, DPI: dpi, Hinting: font.HintingNone})
	if err != nil {
		return nil, err
	}
	faces[key] = fc
	return fc, nil
}
