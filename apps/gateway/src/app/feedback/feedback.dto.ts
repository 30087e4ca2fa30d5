import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsArray, IsDefined, IsString, ValidateNested } from 'class-validator';

export class FeedbackDto {
  @ApiProperty({
    example: 'tweet-42',
    description: 'The id of an earlier prediction (yours, or the one the API gave).',
  })
  @IsDefined()
  @IsString()
  id!: string;

  @ApiProperty({
    oneOf: [
      { type: 'string', example: 'negative' },
      { type: 'integer', example: 0 },
    ],
    description: 'The right label: a name in any case (negative, neutral, positive) or its index (0, 1, 2).',
  })
  @IsDefined()
  label!: string | number;
}

export class FeedbackBatchDto {
  @ApiProperty({ type: [FeedbackDto] })
  @IsDefined()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => FeedbackDto)
  items!: FeedbackDto[];
}

export class FeedbackResultDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: ['stored', 'replaced', 'not_found'] }) status!: string;
  @ApiProperty({ required: false, description: 'The label given.' }) label?: string;
  @ApiProperty({ required: false, description: 'What the model predicted.' }) predicted?: string;
  @ApiProperty({ required: false }) modelVersion?: string;
}

export class FeedbackBatchResultDto {
  @ApiProperty({ type: [FeedbackResultDto] }) results!: FeedbackResultDto[];
}
