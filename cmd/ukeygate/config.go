package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/ukeygate/ukeygate/config"
)

// envPrefix starts every environment variable of the configuration:
// UKEYGATE_<KEY> with the key's dots turned into underscores.
const envPrefix = "UKEYGATE"

// secretKeys are never shown in error messages.
var secretKeys = map[string]bool{"master_key": true, "admin_token": true}

// loadConfig is how every subcommand gets its configuration: the file of
// the --config flag (optional), overridden by UKEYGATE_* environment
// variables, over config.Default(); validated.
func loadConfig(cmd *cobra.Command) (config.Config, error) {
	file, err := cmd.Flags().GetString("config")
	if err != nil {
		file = ""
	}
	return loadConfigFile(file)
}

// configKey is one leaf key of config.Config: its dotted name, the index
// path of its struct field and the field's type.
type configKey struct {
	name  string
	index []int
	typ   reflect.Type
}

// configKeys walks config.Config's mapstructure tags, so the key list
// never drifts from the struct.
func configKeys() []configKey {
	var keys []configKey
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+tag+".", idx)
				continue
			}
			keys = append(keys, configKey{name: prefix + tag, index: idx, typ: f.Type})
		}
	}
	walk(reflect.TypeFor[config.Config](), "", nil)
	return keys
}

// envName is the environment variable of a dotted key.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// loadConfigFile builds the configuration from defaults, the YAML (or
// JSON/TOML by extension) file at path if path is not empty, and the
// environment, then validates it. Errors are one line.
func loadConfigFile(path string) (config.Config, error) {
	cfg, err := readConfig(path)
	if err != nil {
		return config.Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// readConfig is loadConfigFile without the validation.
func readConfig(path string) (config.Config, error) {
	def := config.Default()
	keys := configKeys()

	v := viper.New()
	defVal := reflect.ValueOf(def)
	for _, k := range keys {
		v.SetDefault(k.name, defVal.FieldByIndex(k.index).Interface())
	}
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()

	if path != "" {
		data, err := readFile(path)
		if err != nil {
			return config.Config{}, fmt.Errorf("config: cannot read config file: %w", err)
		}
		switch ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), "."); ext {
		case "json", "toml":
			v.SetConfigType(ext)
		default:
			v.SetConfigType("yaml")
		}
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return config.Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
		if err := checkUnknownKeys(v, keys, path); err != nil {
			return config.Config{}, err
		}
	}

	cfg := def
	out := reflect.ValueOf(&cfg).Elem()
	for _, k := range keys {
		raw := v.Get(k.name)
		val, err := convert(raw, k.typ)
		if err != nil {
			return config.Config{}, decodeError(v, k.name, raw, path, err)
		}
		out.FieldByIndex(k.index).Set(val)
	}
	return cfg, nil
}

// checkUnknownKeys refuses keys in the file that Config does not have
// (a typo would otherwise be silently ignored).
func checkUnknownKeys(v *viper.Viper, keys []configKey, path string) error {
	known := make(map[string]bool, len(keys))
	sections := map[string]bool{}
	for _, k := range keys {
		known[k.name] = true
		parts := strings.Split(k.name, ".")
		for i := 1; i < len(parts); i++ {
			sections[strings.Join(parts[:i], ".")] = true
		}
	}
	all := v.AllKeys()
	sort.Strings(all)
	for _, k := range all {
		if known[k] {
			continue
		}
		if sections[k] {
			switch v.Get(k).(type) {
			case nil, map[string]any:
				continue // an empty section ("log:" alone)
			}
			return fmt.Errorf("config: %s in %s: must be a section of keys, not a value", k, path)
		}
		return fmt.Errorf("config: unknown key %q in %s", k, path)
	}
	return nil
}

// decodeError names the key, its value (unless secret) and where the
// value came from.
func decodeError(v *viper.Viper, key string, raw any, path string, err error) error {
	from := "default"
	if s, ok := os.LookupEnv(envName(key)); ok && s != "" {
		from = envName(key)
	} else if path != "" && v.InConfig(key) {
		from = path
	}
	if secretKeys[key] {
		return fmt.Errorf("config: %s (from %s): %w", key, from, err)
	}
	return fmt.Errorf("config: %s %s (from %s): %w", key, quoteValue(raw), from, err)
}

func quoteValue(raw any) string {
	if s, ok := raw.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%v", raw)
}

var durationType = reflect.TypeFor[time.Duration]()

// convert turns a value from viper (a native default, a YAML/JSON/TOML
// value or an environment string) into the field type t.
func convert(raw any, t reflect.Type) (reflect.Value, error) {
	switch {
	case t == durationType:
		d, err := toDuration(raw)
		return reflect.ValueOf(d), err
	case t.Kind() == reflect.String:
		switch x := raw.(type) {
		case string:
			return reflect.ValueOf(x).Convert(t), nil
		case int, int64, uint64:
			return reflect.ValueOf(fmt.Sprint(x)).Convert(t), nil
		}
		return reflect.Value{}, fmt.Errorf("must be a string (quote it)")
	case t.Kind() == reflect.Bool:
		switch x := raw.(type) {
		case bool:
			return reflect.ValueOf(x), nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err == nil {
				return reflect.ValueOf(b), nil
			}
		}
		return reflect.Value{}, fmt.Errorf("must be true or false")
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		n, err := toInt(raw)
		if err != nil {
			return reflect.Value{}, err
		}
		if t.Kind() == reflect.Int && (n > math.MaxInt || n < math.MinInt) {
			return reflect.Value{}, fmt.Errorf("is out of range")
		}
		return reflect.ValueOf(n).Convert(t), nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		list, err := toStrings(raw)
		if len(list) == 0 {
			list = nil // an empty list reads the same from a file, the environment or the defaults
		}
		return reflect.ValueOf(list), err
	}
	return reflect.Value{}, fmt.Errorf("unsupported field type %s", t)
}

func toDuration(raw any) (time.Duration, error) {
	const hint = "must be a duration with a unit, e.g. 120s, 10m, 72h"
	switch x := raw.(type) {
	case time.Duration:
		return x, nil
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%s", hint)
		}
		return d, nil
	case int, int64, uint64, float64:
		if fmt.Sprint(x) == "0" {
			return 0, nil
		}
		return 0, fmt.Errorf("%s (a bare number has no unit)", hint)
	}
	return 0, fmt.Errorf("%s", hint)
}

func toInt(raw any) (int64, error) {
	const hint = "must be a whole number"
	switch x := raw.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("is out of range")
		}
		return int64(x), nil
	case float64:
		if x != math.Trunc(x) || x > math.MaxInt64 || x < math.MinInt64 {
			return 0, fmt.Errorf("%s", hint)
		}
		return int64(x), nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s", hint)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s", hint)
}

// toStrings accepts a list, or a comma-separated string (the form an
// environment variable takes); blanks around items are dropped.
func toStrings(raw any) ([]string, error) {
	switch x := raw.(type) {
	case []string:
		return append([]string(nil), x...), nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("must be a list of strings")
			}
			out = append(out, s)
		}
		return out, nil
	case string:
		out := []string{}
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	case nil:
		return []string{}, nil
	}
	return nil, fmt.Errorf("must be a list of strings (or comma-separated)")
}
