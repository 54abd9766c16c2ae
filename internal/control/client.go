package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Call sends method with params (encoded as JSON; nil sends none) to the
// daemon listening on name and decodes the result into result unless it is
// nil. It returns the daemon's warnings, also when the method failed. If
// nothing listens on name the error wraps ErrNoDaemon; if a process that is
// not root holds it, the error wraps an *ImpostorError and nothing was sent.
// ctx bounds the whole call.
func Call(ctx context.Context, name, method string, params, result any) (warnings []string, err error) {
	req := Request{Method: method}
	if params != nil {
		if req.Params, err = json.Marshal(params); err != nil {
			return nil, fmt.Errorf("encode parameters of %s: %w", method, err)
		}
	}
	msg, err := encodeMessage(req)
	if err != nil {
		return nil, fmt.Errorf("encode request %s: %w", method, err)
	}
	if len(msg) > MaxRequestSize {
		return nil, fmt.Errorf("call %s: request is %d bytes, more than the limit of %d", method, len(msg), MaxRequestSize)
	}

	conn, err := dial(ctx, name)
	if impostor := (*ImpostorError)(nil); errors.As(err, &impostor) {
		return nil, fmt.Errorf("%w: nothing sent", err)
	}
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	// A refusing server answers without reading, so read the response even
	// when sending failed.
	_, sendErr := conn.Write(msg)
	var resp Response
	if err := readMessage(conn, MaxResponseSize, &resp); err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("call %s: %w", method, context.Cause(ctx))
		case sendErr != nil:
			return nil, fmt.Errorf("call %s: send request: %w", method, sendErr)
		}
		return nil, fmt.Errorf("call %s: read response: %w", method, err)
	}
	if resp.Error != "" {
		return resp.Warnings, errors.New(resp.Error)
	}
	if result != nil && len(resp.Result) > 0 {
		if err := json.Unmarshal(resp.Result, result); err != nil {
			return resp.Warnings, fmt.Errorf("decode result of %s: %w", method, err)
		}
	}
	return resp.Warnings, nil
}
