package main

import (
	"context"
	"fmt"

	"github.com/medrelay/medrelay/dicom/dimse"
	"github.com/medrelay/medrelay/dicom/ul"
)

func runEcho(ctx context.Context, args []string) error {
	var p peerFlags
	fs := newFlagSet("echo", "--host H --port P [--aet OURS] [--called THEIRS]")
	p.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("echo: unexpected argument %q (echo takes flags only)", pos[0])
	}
	if err := p.check(); err != nil {
		return err
	}
	req := ul.Request{CallingAE: p.aet, CalledAE: p.called, Contexts: []ul.PresentationContext{
		{AbstractSyntax: dimse.Verification, TransferSyntaxes: []string{dimse.ExplicitVRLittle, dimse.ImplicitVRLittle}},
	}}
	c, err := dimse.Dial(ctx, p.addr(), req, p.options())
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	if err := c.Echo(ctx); err != nil {
		c.Assoc().Abort()
		return err
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("echo: release: %w", err)
	}
	fmt.Printf("echo %s (%s): success\n", p.addr(), p.called)
	return nil
}
