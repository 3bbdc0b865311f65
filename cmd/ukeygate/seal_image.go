package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ukeygate/ukeygate/internal/sealimage"
)

func newSealImageCmd() *cobra.Command {
	var org, title, square, out string
	var size int
	cmd := &cobra.Command{
		Use:   "image (--org NAME [--title TEXT] | --square NAME) --out FILE.png [--size PX]",
		Short: "Draw a seal picture to try seals with: a round 公章 or a square 法人章 (offline)",
		Long: `Draw a realistic seal picture, red on a transparent background, for
'ukeygate seal add --image': a round 公章 (border, five-pointed star, the
organisation's name along the upper arc, --title below the star) or a
square name seal (--square 张三 gives 张三之印). The Chinese text needs a
CJK font (apt-get install fonts-wqy-zenhei, or UKEYGATE_CJK_FONT=FILE).
A real organisation's seal picture comes from its registered seal, not
from here.

  ukeygate seal image --org 某某建设有限公司 --title 合同专用章 --out seal.png
  ukeygate seal image --square 张三 --out legal-rep.png`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var png []byte
			var err error
			switch {
			case (org == "") == (square == ""):
				return usageErrorf("give --org (a round seal) or --square (a name seal)")
			case org != "":
				png, err = sealimage.Round(org, title, size)
			default:
				png, err = sealimage.Square(square, size)
			}
			if err != nil {
				return err
			}
			if err := writeOutput(out, png, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d×%d pixels, %d bytes\n", out, size, size, len(png))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&org, "org", "", "round seal: the organisation's name (2 to 24 characters)")
	f.StringVar(&title, "title", "", "round seal: the text below the star, e.g. 合同专用章")
	f.StringVar(&square, "square", "", "square seal: a name of 2 to 4 characters")
	f.StringVarP(&out, "out", "o", "", "the PNG file to write (required)")
	f.IntVar(&size, "size", 480, "pixels a side (120 to 2048)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
