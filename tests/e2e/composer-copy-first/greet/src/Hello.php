<?php
namespace Greet;

class Hello
{
    public static function text(): string
    {
        return "hello from greet 1.0.0";
    }
}
